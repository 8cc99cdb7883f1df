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

/// <summary>Outcome of one flip-flop run: read error per split (fraction, 0 … 1).</summary>
public sealed record FlipFlopResult(string Model, long Parameters, double ErrorInDistribution, double ErrorSparseOod,
    double ErrorDenseOod, double MsPerStep, IReadOnlyList<TrainPoint> History);
