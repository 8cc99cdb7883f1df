using PathNotebooks.PaTH;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.DeltaNet;

/// <summary>
/// The gradients of the gated delta rule's chunked form written out by hand, chunk by chunk: the algorithm the fused
/// CUDA backward (<c>Cuda/Sources/gated_delta_rule_backward.cu</c>) runs, in libtorch ops so that it can be read and
/// checked in float64 against autograd through <see cref="GatedDeltaRule.Recurrent"/>.
/// <para>Per chunk of C tokens (γ the chunk-local cumulative sum of g, Γ_ij = exp(γ_i − γ_j) for i ≥ j, Qs = scale·Q,
/// S the state at the chunk's start, S' the next one):</para>
/// <para><c>B = strictLower(Γ ⊙ K Kᵀ)</c>, <c>T = (I + diag(β) B)⁻¹</c>, <c>W = T diag(β e^γ) K</c>,
/// <c>U = T diag(β) V</c>, <c>V' = U − W S</c>, <c>P = lower(Γ ⊙ Qs Kᵀ)</c>, <c>O = diag(e^γ) Qs S + P V'</c>,
/// <c>S' = e^{γ_C} S + (diag(e^{γ_C − γ}) K)ᵀ V'</c>.</para>
/// <para>Backward, chunks in reverse with dS' (zero after the last chunk): <c>dV' = Pᵀ dO + diag(e^{γ_C − γ}) K dS'</c>;
/// <c>dS = e^{γ_C} dS' + (diag(e^γ) Qs)ᵀ dO − Wᵀ dV'</c> — the only sequential part; then, for every chunk at once,
/// the gradients of Q and K through O and S', <c>dW = −dV' Sᵀ</c>, <c>dU = dV'</c>, and through the UT transform:
/// <c>[dKβ | dVβ] = Tᵀ [dW | dU]</c> (a back substitution with <c>(I + A)ᵀ</c>), <c>dA = −strictLower(dKβ Wᵀ + dVβ Uᵀ)</c>.
/// Every factor exp(γ_i − γ_j) sends its gradient to γ_i and minus it to γ_j, so dγ collects row sums minus column sums
/// of (gradient ⊙ value) for each decayed matrix, and dg is the reverse cumulative sum of dγ within the chunk.</para>
/// </summary>
public static class GatedDeltaRuleGradients
{
    /// <summary>Gradients of the rule's output (and of its final state, when given) with respect to every input.</summary>
    /// <param name="q">queries <c>[B, H, T, Dk]</c></param>
    /// <param name="k">keys <c>[B, H, T, Dk]</c></param>
    /// <param name="v">values <c>[B, H, T, Dv]</c></param>
    /// <param name="logDecay">g <c>[B, H, T]</c></param>
    /// <param name="beta">β <c>[B, H, T]</c></param>
    /// <param name="outputGradient">dO <c>[B, H, T, Dv]</c></param>
    /// <param name="chunkSize">C ≥ 1</param>
    /// <param name="initialState">S before the first token <c>[B, H, Dk, Dv]</c> (default zeros)</param>
    /// <param name="finalStateGradient">dS after the last token <c>[B, H, Dk, Dv]</c> (default zeros)</param>
    /// <param name="scale">read-out scale (default <c>1/√Dk</c>)</param>
    /// <returns>dq, dk, dv, dg, dβ in the inputs' shapes, and dS₀ <c>[B, H, Dk, Dv]</c>; all in the computing dtype
    /// (float32 for half inputs)</returns>
    public static (Tensor Dq, Tensor Dk, Tensor Dv, Tensor DlogDecay, Tensor Dbeta, Tensor DinitialState) Chunked(Tensor q, Tensor k, Tensor v,
        Tensor logDecay, Tensor beta, Tensor outputGradient, int chunkSize = GatedDeltaRule.DefaultChunkSize, Tensor? initialState = null,
        Tensor? finalStateGradient = null, double? scale = null)
    {
        Shapes.Rank(q, 4, nameof(q), "[B, H, T, Dk]");
        long b = q.shape[0], h = q.shape[1], t = q.shape[2], dk = q.shape[3];
        Shapes.Exactly(k, nameof(k), "[B, H, T, Dk]", b, h, t, dk);
        Shapes.Rank(v, 4, nameof(v), "[B, H, T, Dv]");
        long dv = v.shape[3];
        Shapes.Exactly(v, nameof(v), "[B, H, T, Dv]", b, h, t, dv);
        Shapes.Exactly(logDecay, nameof(logDecay), "[B, H, T]", b, h, t);
        Shapes.Exactly(beta, nameof(beta), "[B, H, T]", b, h, t);
        Shapes.Exactly(outputGradient, nameof(outputGradient), "[B, H, T, Dv]", b, h, t, dv);
        if (initialState is not null) Shapes.Exactly(initialState, nameof(initialState), "[B, H, Dk, Dv]", b, h, dk, dv);
        if (finalStateGradient is not null) Shapes.Exactly(finalStateGradient, nameof(finalStateGradient), "[B, H, Dk, Dv]", b, h, dk, dv);
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be ≥ 1.");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var dtype = Householder.AccumulationType(q.dtype);
        long c = chunkSize, n = (t + c - 1) / c, pad = n * c - t;
        double sc = scale ?? 1.0 / Math.Sqrt(dk);
        // Padded rows: q = k = v = 0, β = g = 0, dO = 0, so they change nothing (identity transitions).
        Tensor Rows(Tensor x) => (pad == 0 ? x.to(dtype) : F.pad(x.to(dtype), new long[] { 0, 0, 0, pad })).view(b, h, n, c, x.shape[3]);
        Tensor Gates(Tensor x) => (pad == 0 ? x.to(dtype) : F.pad(x.to(dtype), new long[] { 0, pad })).view(b, h, n, c);
        var qs = Rows(q) * sc;                                                             // [B, H, N, C, Dk]
        var kc = Rows(k);
        var vc = Rows(v);
        var doc = Rows(outputGradient);                                                    // [B, H, N, C, Dv]
        var gamma = Gates(logDecay).cumsum(-1);                                            // [B, H, N, C]
        var bc = Gates(beta);
        var lowerIncl = ones(c, c, dtype: ScalarType.Bool, device: q.device).tril();
        var strict = ones(c, c, dtype: ScalarType.Bool, device: q.device).tril(-1);
        var decay = (gamma.unsqueeze(-1) - gamma.unsqueeze(-2)).masked_fill(lowerIncl.logical_not(), double.NegativeInfinity).exp();   // Γ
        var last = gamma[.., .., .., ^1..];                                                // γ_C [B, H, N, 1]
        var toStart = gamma.exp().unsqueeze(-1);                                           // e^γ [B, H, N, C, 1]
        var toEnd = (last - gamma).exp().unsqueeze(-1);                                    // e^{γ_C − γ}

        // Forward, every chunk at once except the state sweep.
        var bmat = (decay * kc.matmul(kc.transpose(-2, -1))).masked_fill(strict.logical_not(), 0);      // B
        var tinv = Householder.InverseUnitLower(bc.unsqueeze(-1) * bmat);                  // T = (I + diag(β) B)⁻¹
        var kb = (bc.unsqueeze(-1) * toStart) * kc;                                        // diag(β e^γ) K
        var vb = bc.unsqueeze(-1) * vc;
        var w = tinv.matmul(kb);                                                           // [B, H, N, C, Dk]
        var u = tinv.matmul(vb);                                                           // [B, H, N, C, Dv]
        var p = (decay * qs.matmul(kc.transpose(-2, -1))).masked_fill(lowerIncl.logical_not(), 0);      // P
        var kd = toEnd * kc;                                                               // diag(e^{γ_C − γ}) K
        var states = new Tensor[n];
        var vnew = new Tensor[n];
        var s = initialState?.to(dtype) ?? zeros(b, h, dk, dv, dtype: dtype, device: q.device);
        for (int i = 0; i < n; i++)
        {
            states[i] = s;
            vnew[i] = u.select(2, i) - w.select(2, i).matmul(s);                           // V' [B, H, C, Dv]
            s = last.select(2, i).exp().unsqueeze(-1) * s + kd.select(2, i).transpose(-2, -1).matmul(vnew[i]);
        }
        var st = stack(states, 2);                                                          // S per chunk [B, H, N, Dk, Dv]
        var vn = stack(vnew, 2);                                                            // [B, H, N, C, Dv]

        // Backward sweep (sequential): dV' and the gradient of every chunk's end state dS'.
        var dnext = new Tensor[n];
        var dvnew = new Tensor[n];
        var ds = finalStateGradient?.to(dtype) ?? zeros(b, h, dk, dv, dtype: dtype, device: q.device);
        var dvLocal = p.transpose(-2, -1).matmul(doc);                                     // Pᵀ dO
        var qd = toStart * qs;                                                             // diag(e^γ) Qs
        for (long i = n - 1; i >= 0; i--)
        {
            dnext[i] = ds;
            dvnew[i] = dvLocal.select(2, i) + kd.select(2, i).matmul(ds);
            ds = last.select(2, i).exp().unsqueeze(-1) * ds + qd.select(2, i).transpose(-2, -1).matmul(doc.select(2, i))
                 - w.select(2, i).transpose(-2, -1).matmul(dvnew[i]);
        }
        var dsn = stack(dnext, 2);                                                          // dS' per chunk [B, H, N, Dk, Dv]
        var dvn = stack(dvnew, 2);                                                          // dV'

        // Every chunk at once: through O and S'.
        var doS = doc.matmul(st.transpose(-2, -1));                                        // dO Sᵀ [B, H, N, C, Dk]
        var dp = doc.matmul(vn.transpose(-2, -1)).masked_fill(lowerIncl.logical_not(), 0); // dP = lower(dO V'ᵀ)
        var dpg = dp * decay;                                                               // dP ⊙ Γ
        var dqs = toStart * doS + dpg.matmul(kc);
        var vdS = vn.matmul(dsn.transpose(-2, -1));                                        // V' dS'ᵀ [B, H, N, C, Dk]
        var dkOut = dpg.transpose(-2, -1).matmul(qs) + toEnd * vdS;
        var dw = -dvn.matmul(st.transpose(-2, -1));                                        // dW = −dV' Sᵀ
        // Through the UT transform: Tᵀ [dW | dU], dA.
        var tT = tinv.transpose(-2, -1);
        var dkb = tT.matmul(dw);
        var dvb = tT.matmul(dvn);
        var da = -(dkb.matmul(w.transpose(-2, -1)) + dvb.matmul(u.transpose(-2, -1))).masked_fill(strict.logical_not(), 0);
        var dbm = bc.unsqueeze(-1) * da;                                                    // dB = diag(β) dA
        var e = dbm * decay;                                                                // d(K Kᵀ) on the strict lower triangle
        var dkTotal = dkOut + (bc.unsqueeze(-1) * toStart) * dkb + e.matmul(kc) + e.transpose(-2, -1).matmul(kc);
        var dvTotal = bc.unsqueeze(-1) * dvb;
        var dbeta = (toStart * kc * dkb).sum(-1) + (vc * dvb).sum(-1) + (da * bmat).sum(-1);

        // dγ: row sums minus column sums of each decayed matrix's (gradient ⊙ value), plus the e^γ and e^{γ_C} factors.
        static Tensor RowMinusColumn(Tensor m) => m.sum(-1) - m.sum(-2);
        var dgamma = (toStart.squeeze(-1) * (doS * qs).sum(-1))                            // diag(e^γ) Qs S
                     + RowMinusColumn(dpg * qs.matmul(kc.transpose(-2, -1)))               // P
                     + (kb * dkb).sum(-1)                                                   // diag(β e^γ) K
                     + RowMinusColumn(dbm * bmat);                                          // B
        var toEndTerms = toEnd.squeeze(-1) * (vdS * kc).sum(-1);                           // diag(e^{γ_C − γ}) K in S'
        dgamma = dgamma - toEndTerms;
        var lastTerm = toEndTerms.sum(-1) + last.squeeze(-1).exp() * (dsn * st).sum(new long[] { -2, -1 });   // γ_C in S'
        dgamma.select(-1, c - 1).add_(lastTerm);
        var dg = dgamma.flip(-1).cumsum(-1).flip(-1);                                      // dg_j = Σ_{i ≥ j} dγ_i

        Tensor Unrows(Tensor x) => x.reshape(b, h, n * c, x.shape[^1])[.., .., ..(int)t];
        Tensor Ungates(Tensor x) => x.reshape(b, h, n * c)[.., .., ..(int)t];
        return (Unrows(dqs * sc).MoveToOuterDisposeScope(), Unrows(dkTotal).MoveToOuterDisposeScope(), Unrows(dvTotal).MoveToOuterDisposeScope(),
            Ungates(dg).MoveToOuterDisposeScope(), Ungates(dbeta).MoveToOuterDisposeScope(), ds.MoveToOuterDisposeScope());
    }
}
