using System.CommandLine;
using System.CommandLine.Invocation;
using PathNotebooks.Cli;

return await Cli.RunAsync(args);

namespace PathNotebooks.Cli
{
    /// <summary>A mistake in how the command was called: reported in one line with a hint, exit code 2.</summary>
    sealed class UsageException(string message) : Exception(message);

    /// <summary>Entry point: parse, report usage errors briefly, run the verb, turn expected failures into one message.</summary>
    static class Cli
    {
        public const int UsageExitCode = 2;

        public static async Task<int> RunAsync(string[] argv)
        {
            var root = Commands.Build();
            if (argv.Length == 0)
            {
                await root.Parse(["--help"]).InvokeAsync();
                return UsageExitCode;
            }
            var parse = root.Parse(argv);
            if (parse.Action is ParseErrorAction)
                return ReportUsage(Describe(parse), parse.CommandResult.Command);
            var invocation = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,   // ours below prints expected failures without a stack trace
                ProcessTerminationTimeout = null,        // commands with children handle signals themselves (Interruption)
            };
            try
            {
                return await parse.InvokeAsync(invocation);
            }
            catch (UsageException e)
            {
                return ReportUsage(e.Message, parse.CommandResult.Command);
            }
            catch (Exception e) when (IsExpected(e))
            {
                Console.Error.WriteLine(parse.GetValue(Commands.Verbose) ? $"pathnb: {e}" : $"pathnb: {e.Message}");
                return 1;
            }
        }

        /// <summary>Failures a user can act on from the message alone (bad device, missing file, ...); others keep their trace.</summary>
        static bool IsExpected(Exception e) =>
            e is InvalidOperationException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or TimeoutException;

        static int ReportUsage(string message, Command command)
        {
            Console.Error.WriteLine($"pathnb: {OneLine(message)}");
            Console.Error.WriteLine($"Try '{CommandPath(command)} --help'.");
            return UsageExitCode;
        }

        /// <summary>The first parse error; for a group such as `notebook`, which verb is unknown or that one is missing.</summary>
        static string Describe(ParseResult parse)
        {
            var command = parse.CommandResult.Command;
            if (command.Subcommands.Count == 0) return parse.Errors[0].Message;
            var verbs = string.Join(", ", command.Subcommands.Select(c => c.Name));
            return parse.UnmatchedTokens.Count > 0
                ? $"unknown command '{parse.UnmatchedTokens[0]}' (commands: {verbs})."
                : $"'{CommandPath(command)}' needs a command: {verbs}.";
        }

        static string OneLine(string text) =>
            string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        /// <summary>"./pathnb notebook run" for the run command: the words a user types to reach it.</summary>
        static string CommandPath(Command command)
        {
            var words = new List<string>();
            for (Symbol? s = command; s != null; s = s.Parents.FirstOrDefault())
                words.Insert(0, s.Name);
            return string.Join(' ', words);
        }
    }
}
