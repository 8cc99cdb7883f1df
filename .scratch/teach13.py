import json
def load(n): return json.load(open(f'notebooks/{n}.ipynb'))
def save(n, nb):
    json.dump(nb, open(f'notebooks/{n}.ipynb','w'), indent=1, ensure_ascii=False); open(f'notebooks/{n}.ipynb','a').write('\n')
def src(c): return ''.join(c['source'])
def setsrc(c, s):
    lines=s.split('\n'); c['source']=[l+'\n' for l in lines[:-1]]+[lines[-1]]
def rep(nb, i, old, new):
    s=src(nb['cells'][i]); assert old in s, (i, old[:60]); setsrc(nb['cells'][i], s.replace(old,new))

# ---------- 03 ----------
nb=load('03-path-householder')
rep(nb,0,"""That makes PaTH a position encoding that can track state —
the paper proves a one-layer, two-head PaTH transformer solves an NC¹-complete problem that RoPE transformers (in
TC⁰) cannot.""","""That makes PaTH a position encoding that can track state.
The paper proves that a one-layer, two-head PaTH transformer solves an NC¹-complete state-tracking problem.
Constant-depth RoPE transformers with log-precision arithmetic lie in the circuit class TC⁰, so they cannot solve it
at every length — *unless TC⁰ = NC¹*, which is widely believed false but not proven.""")
rep(nb,0,"""products of reflections as paths (and RoPE's rotations
as products of *two* fixed reflections)""","""products of reflections as paths (and RoPE's rotation
as a product of fixed reflections, two per rotated plane)""")
rep(nb,4,"""## 2 · Products of transforms are paths — and RoPE is two fixed reflections

Compose two reflections whose mirror directions differ by an angle φ: the result is a **rotation by 2φ**. So RoPE's
per-step rotation R is itself a product of two fixed reflections, and qᵢᵀ R^(i−j) kⱼ is a path of 2(i − j)
*identical* reflections. PaTH's path uses a different, data-dependent transform per token — and a single reflection
per token, which is why PaTH does not contain RoPE as a special case (the paper says so in its limitations).""",
"""## 2 · Products of transforms are paths — and RoPE is a product of fixed reflections

Compose two reflections whose mirror directions differ by an angle φ: the result is a **rotation by 2φ** (the cell
below checks it in 2-D). RoPE's per-step rotation R turns d/2 planes by d/2 *different* angles θ₁ … θ_{d/2}. Each
plane's rotation is two reflections inside that plane, so one RoPE step is a product of **d** fixed reflections, two
per plane, each pair with its own mirrors. qᵢᵀ R^(i−j) kⱼ repeats that same product i − j times. Only at d = 2 is a
step "two reflections".

PaTH's path uses a different, data-dependent transform per token, and a single reflection per token. That is why
PaTH does not contain RoPE as a special case (the paper says so in its limitations).""")
rep(nb,16,"""For S5 (120 elements, non-solvable) this is
NC¹-complete: no constant-depth RoPE transformer can solve it at all lengths, while PaTH's products of
data-dependent transforms can carry the state.""","""For S5 (120 elements, non-solvable) this is
NC¹-complete. A constant-depth, log-precision RoPE transformer lies in TC⁰, so it cannot solve it at all lengths
unless TC⁰ = NC¹, while PaTH's products of data-dependent transforms can carry the state.""")
rep(nb,16,"""and the number of flips is the parity.""","""and the number of flips is the parity. Parity itself lies in TC⁰: a
RoPE transformer *can* express it. So when RoPE fails parity below, that is a failure to learn a solution that holds
at other lengths, not a limit of what the architecture can represent.""")
save('03-path-householder', nb)

# ---------- 01 ----------
nb=load('01-rope-rotations')
rep(nb,8,"""Pair i has wavelength 2π/θᵢ positions: from 2π ≈ 6 positions for the first pair to about 2π·10 000 for the last.""",
"""Pair i (i = 0 … d/2 − 1) has wavelength 2π/θᵢ = 2π·10 000^(2i/d) positions. That runs from 2π ≈ 6 positions for
the first pair to 2π·10 000^((d−2)/d) for the last: about 4.7·10⁴ positions at d = 64, just under 2π·10 000.""")
rep(nb,20,"""$"NoPE: {Acc(PositionEncoding.NoPE, 1)} / {Acc(PositionEncoding.NoPE, 2)} / {Acc(PositionEncoding.NoPE, 4)}. Chance = {1.0 / settings.Task.VocabSize:P1}.\"""",
"""$"NoPE: {Acc(PositionEncoding.NoPE, 1)} / {Acc(PositionEncoding.NoPE, 2)} / {Acc(PositionEncoding.NoPE, 4)}. Chance = {1.0 / settings.Task.VocabSize:P1}.\\n" +
// The averages at 2L and 4L include every position inside L; beyond L alone is what extrapolation means.
$"Beyond L only, in the {longest}-token sequences (positions L…2L−1 / 2L…4L−1): " +
string.Join("; ", encodings.Select(e => $"{e} {Beyond(e, settings.TrainLength, 2 * settings.TrainLength):P1} / {Beyond(e, 2 * settings.TrainLength, longest):P1}"))""")
rep(nb,20,"""string Acc(PositionEncoding e, int m) =>""","""double Beyond(PositionEncoding e, int from, int to) => runs.First(r => r.Encoding == e).AccuracyByPosition[longest][from..to].Average();
string Acc(PositionEncoding e, int m) =>""")
save('01-rope-rotations', nb)

# ---------- 04 ----------
nb=load('04-fox-forgetting')
rep(nb,8,"""**Gated linear attention is FoX without the softmax.** Gated linear attention / Mamba-2-style models keep a matrix
state that decays by the gate at every step:""","""**Gated linear attention is FoX without the softmax.** Linear attention with one scalar gate per head (the form
Mamba-2 uses; GLA's gate is a vector, one decay per key dimension) keeps a matrix state that decays by the gate at
every step:""")
rep(nb,8,"""the gate is learned, so both train — they
only must not be mixed when comparing outputs.""","""the gate is learned, so both train, but
the two must not be mixed when comparing outputs. At equal gates this makes PaTH-FoX's decay prior √d times weaker
than FoX's (8× at d = 64). The comparison of section 4 inherits that difference: this notebook does not run the
control (PaTH-FoX with an unscaled gate, or FoX with a scaled one), so "PaTH-FoX vs FoX" there mixes the
architecture with the prior.""")
rep(nb,15,"""Heads usually
specialise — some keep almost everything (f ≈ 1, long memory), others forget fast or reset at particular
characters (spaces, punctuation, line ends).""","""Heads may
specialise: some keep almost everything (f ≈ 1, long memory), others forget fast. Whether a head resets at particular
characters (spaces, punctuation) is something to look for in the picture; this notebook does not measure it.
The half-life below comes from the mean of log f, not the mean of f: decay multiplies, so h = ln ½ / mean(log f).""")
rep(nb,16,"""var meanGate = gates.mean(new long[] { 1 }).cpu().data<float>().ToArray();
string.Join("; ", rowLabels.Select((name, i) => $"{name}: mean f = {meanGate[i]:F3} (half-life ≈ {Math.Log(0.5) / Math.Log(Math.Min(meanGate[i], 0.999999)):F1} tokens)"))""",
"""var meanGate = gates.mean(new long[] { 1 }).cpu().data<float>().ToArray();
var meanLogGate = cat(layers.Select(l => l.LastLogForget![0]).ToArray(), 0).mean(new long[] { 1 }).cpu().data<float>().ToArray();
// The decay over h tokens is exp(Σ log f), so the typical half-life is ln ½ / mean(log f), not ln ½ / log(mean f).
string.Join("; ", rowLabels.Select((name, i) => $"{name}: mean f = {meanGate[i]:F3}, half-life ln ½ / mean(log f) ≈ {Math.Log(0.5) / Math.Min(meanLogGate[i], -1e-6):F2} tokens"))""")
save('04-fox-forgetting', nb)

# ---------- 02 ----------
nb=load('02-positional-vectors')
rep(nb,15,"""For window attention the vectors stop changing once t exceeds the receptive field, so nothing
new appears past C.""","""For window attention, the paper says, the vectors stop changing once t exceeds the receptive field,
so nothing new appears past C.""")
rep(nb,19,"""its positional vector by the in-window vector interpolated at position k + (t − k)/r:""","""its positional vector by the in-window vector interpolated at position k + (t − k)/r. That is this kit's variant:
the paper interpolates at t/r; keeping the first k anchors fixed shifts everything after them:""")
rep(nb,19,"""With 3 (tiny) or 6
(full) layers a fifth of the depth is layer 1, so we try every early layer (ℓ = 1, 2 in tiny; 1–3 in full) and
report each. Here p[ℓ, t] of the long sequence is estimated as the mean over the evaluation batch (the paper leaves
this open).""","""With 3 (tiny) or 4
(full) layers a fifth of the depth is layer 1, so we try every early layer (ℓ = 1, 2 in tiny; 1–3 in full) and
report each. Here p[ℓ, t] of the long sequence is estimated as the mean over the evaluation batch (the paper leaves
this open). So the method needs a batch of sequences at evaluation time: on a single sequence the "mean" is that
sequence's own hidden state, and removing it removes the token's content as well.""")
save('02-positional-vectors', nb)

# README
p='README.md'; s=open(p).read()
s=s.replace("products as paths (RoPE = two fixed reflections)","products as paths (a RoPE step = d fixed reflections, two per plane)")
open(p,'w').write(s)
print("ok")
