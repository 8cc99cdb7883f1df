using PathNotebooks.Cli;

return await Commands.MainAsync(args);
