using System.Diagnostics;
using Microsoft.Data.Analysis;
using PathNotebooks.Experiments;
using PathNotebooks.Models;
using PathNotebooks.Runtime;
using PathNotebooks.Tasks;
using TorchSharp;
using static TorchSharp.torch;
using PathNotebooks.Training;
using PathNotebooks.PaTH;

namespace PathNotebooks.Experiments;

/// <summary>Outcome of one word-problem run.</summary>
public sealed record WordProblemResult(string Model, string Group, long Parameters, IReadOnlyList<LengthAccuracy> Accuracy,
    double MsPerStep, IReadOnlyList<TrainPoint> History);
