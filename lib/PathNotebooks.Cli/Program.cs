using PathNotebooks;
var info = Kit.Init();
var t = TorchSharp.torch.randn(3, 3);
Console.WriteLine(t.sum().item<float>());
