using System.Diagnostics;
using PathNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Training;

/// <summary>A logged point of a training run.</summary>
public sealed record TrainPoint(int Step, double Loss, double Seconds);
