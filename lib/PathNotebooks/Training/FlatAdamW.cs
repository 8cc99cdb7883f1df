using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace PathNotebooks.Training;

/// <summary>
/// AdamW (decoupled weight decay) over one flat buffer. Every trainable parameter is moved into a view of a single
/// contiguous tensor <c>[N]</c> and its gradient into a view of a second one, so zeroing, clipping and the update are a
/// handful of kernel launches whatever the number of parameters, and clipping never reads the norm back to the host.
/// Small models on a GPU are bound by launches, not arithmetic: TorchSharp's per-parameter AdamW launches nine kernels per
/// parameter and its clipping synchronises with the device every step.
/// </summary>
/// <remarks>
/// The update is elementwise the same formula, in the same order, as TorchSharp's <c>optim.AdamW</c>; only the clipping
/// norm is reduced in a different order (one norm over the flat gradient instead of a norm of per-parameter norms), so the
/// two agree to rounding. One difference: a parameter whose gradient was never written reads zero here and is still
/// decayed, where the per-parameter optimiser skips it. The parameters stay views of the buffer after this object is
/// disposed (the storage lives as long as they do).
/// </remarks>
public sealed class FlatAdamW : IDisposable
{
    readonly Tensor _values, _gradients, _expAvg, _expAvgSq;     // each [N]
    readonly double _beta1, _beta2, _eps, _weightDecay;
    long _step;

    /// <summary>Moves <paramref name="parameters"/> (those that require gradients; each once) into one buffer.</summary>
    /// <param name="parameters">all on one device with one dtype</param>
    /// <param name="beta1">first-moment decay, in [0, 1)</param>
    /// <param name="beta2">second-moment decay, in [0, 1)</param>
    /// <param name="eps">added to the denominator, ≥ 0</param>
    /// <param name="weightDecay">decoupled decay per unit learning rate, ≥ 0</param>
    public FlatAdamW(IEnumerable<Parameter> parameters, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (eps < 0) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be ≥ 0.");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be ≥ 0.");
        (_beta1, _beta2, _eps, _weightDecay) = (beta1, beta2, eps, weightDecay);

        var seen = new HashSet<IntPtr>();
        var list = parameters.Where(p => p.requires_grad && seen.Add(p.Handle)).ToList();
        if (list.Count == 0) throw new ArgumentException("no parameter requires a gradient.", nameof(parameters));
        var dtype = list[0].dtype;
        var device = list[0].device;
        foreach (var p in list)
            if (p.dtype != dtype || p.device.type != device.type || p.device.index != device.index)
                throw new ArgumentException($"all parameters must share one dtype and device; found {dtype} on {device} and {p.dtype} on {p.device}.",
                    nameof(parameters));

        Count = list.Sum(p => p.numel());
        _values = empty(Count, dtype, device);
        _gradients = zeros(Count, dtype, device);
        _expAvg = zeros(Count, dtype, device);
        _expAvgSq = zeros(Count, dtype, device);
        using (no_grad())
        {
            long offset = 0;
            foreach (var p in list)
            {
                long n = p.numel();
                using var value = _values.narrow(0, offset, n).view(p.shape);
                value.copy_(p);
                p.set_(value);                                         // in place (returns p): the module keeps its Parameter, its storage moves
                using var gradient = _gradients.narrow(0, offset, n).view(p.shape);
                p.grad = gradient;                                     // backward accumulates into this view in place
                offset += n;
            }
        }
        Parameters = list;
    }

    /// <summary>Number of scalars in the buffer.</summary>
    public long Count { get; }

    /// <summary>The parameters in the buffer, in buffer order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Sets every gradient to zero (one launch).</summary>
    public void ZeroGrad() => _gradients.zero_();

    /// <summary>
    /// Scales the gradients so their joint L2 norm is at most <paramref name="maxNorm"/> (as <c>clip_grad_norm_</c>, with its
    /// 1e-6 guard), without a host synchronisation. Returns the norm before clipping, a 0-dim tensor on the device.
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be > 0.");
        using var scope = NewDisposeScope();
        var norm = _gradients.norm();
        using (var coefficient = (maxNorm / (norm + 1e-6)).clamp_max(1.0))
            _gradients.mul_(coefficient);
        return norm.MoveToOuterDisposeScope();
    }

    /// <summary>One AdamW update with learning rate <paramref name="learningRate"/>.</summary>
    public void Step(double learningRate)
    {
        if (learningRate < 0) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be ≥ 0.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _step++;
        double biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        double biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        _values.mul_(1 - learningRate * _weightDecay);
        _expAvg.mul_(_beta1).add_(_gradients, alpha: 1 - _beta1);
        _expAvgSq.mul_(_beta2).addcmul_(_gradients, _gradients, value: 1 - _beta2);
        var denominator = (_expAvgSq.sqrt() / Math.Sqrt(biasCorrection2)).add_(_eps);
        _values.addcdiv_(_expAvg, denominator, value: -learningRate / biasCorrection1);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _values.Dispose();
        _gradients.Dispose();
        _expAvg.Dispose();
        _expAvgSq.Dispose();
    }
}
