exec(open('.scratch/teach13.py').read().split('# ---------- 03 ----------')[0])
nb=load('01-rope-rotations')
rep(nb,21,"""  NoPE 17.6 / 16.2 / 14.0 % (chance 6.25 %).""","""  NoPE 17.6 / 16.2 / 14.0 % (chance 6.25 %). Those averages include every position inside L; beyond L alone (positions
  L…2L−1 / 2L…4L−1 of the 4L sequences) RoPE gets 100 / 87.7 %, ALiBi 18.4 / 17.4 %, NoPE 14.8 / 12.3 %.""")
rep(nb,21,"""Past L it meets offsets and absolute angles it never saw in training; the
  pattern for offset k still fires, but softmax now also spreads a little mass over many more unseen, far-away
  keys, and accuracy slips as sequences grow (the per-position chart shows the slip starts only past L).""","""The score holds no absolute angle (section 2), so what is new past L is only
  relative distances larger than any seen in training. The pattern for offset k still fires, and accuracy slips only
  past L (the per-position chart). Why it slips is not measured here; the attention mass at the copy offset against
  the mass on far keys would tell.""")
rep(nb,21,"""monotone penalty cannot produce in one head; the model settles near chance plus what it can reconstruct from
  blurred recent averages.""","""monotone penalty cannot produce in one head. The model still does well above chance (at full size 55.5 % against
  3.1 %, about 18×) from what it can reconstruct out of blurred recent averages, and its accuracy is flat in length:
  its penalty gives every head a bounded effective range, so what it can do at L it does at 4L, and no more.""")
save('01-rope-rotations', nb)
nb=load('04-fox-forgetting')
rep(nb,20,"""  The learned FoX gates are short-range (mean f between 0.31 and 0.64 per head on the snippet above).""","""  The learned FoX gates are short-range: mean f between 0.31 and 0.64 per head on the snippet above, half-lives
  (from the mean of log f) of 0.53 to 1.41 bytes.""")
rep(nb,20,"""RoPE breaks right after the training length, FoX and PaTH-FoX keep
  improving with more context, PaTH alone degrades only mildly, and PaTH-FoX is best at every length.""","""RoPE breaks right after the training length; the loss of FoX and PaTH-FoX
  keeps falling from band to band; PaTH alone degrades only mildly and is worse than RoPE and FoX at L (0.867
  against 0.842 and 0.855); PaTH-FoX is lowest at every length, with the √d gate-scaling confound of section 2.
  Each band holds different text and the gates' half-lives are about a byte, so falling band losses say these
  models are not hurt by distance, not that they use more context.""")
rep(nb,20,"""* *FoX and PaTH-FoX extrapolate*: their loss keeps falling with position up to 4L, i.e. they keep using (or at
  least are not hurt by) context longer than anything seen in training.""","""* *FoX and PaTH-FoX extrapolate*: their loss keeps falling with position up to 4L, i.e. they are not hurt by
  positions beyond anything seen in training (whether they *use* the longer context, this notebook cannot say).""")
rep(nb,20,"""* *PaTH-FoX is best at every length*, as in PaTH Table 2.""","""* *PaTH-FoX is best at every length*, as in PaTH Table 2, but see the gate-scaling caveat in section 2.""")
rep(nb,20,"""* The learned gates are short (half-lives of one or two bytes on average)""","""* The learned gates are short (half-lives of about half a byte to one and a half bytes)""")
save('04-fox-forgetting', nb)
print('ok')
