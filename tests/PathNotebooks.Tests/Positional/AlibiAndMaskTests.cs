using PathNotebooks.Positional;

namespace PathNotebooks.Tests.Positional;

[Collection("torch")]
public class AlibiAndMaskTests
{
    [Fact]
    public void SlopesFollowThePaper()
    {
        var s8 = Alibi.Slopes(8).data<float>().ToArray();
        Assert.Equal(0.5f, s8[0], 6); Assert.Equal(1f / 256, s8[7], 8);
        var s6 = Alibi.Slopes(6).data<float>().ToArray();                       // 4 from 2^(−2h), 2 from the 8-head set
        Assert.Equal(new[] { 0.25f, 1f / 16, 1f / 64, 1f / 256, 0.5f, 0.125f }, s6);
    }

    [Fact]
    public void BiasIsLinearInDistanceAndCausal()
    {
        var bias = Alibi.Bias(2, 4, 4);
        Assert.Equal(new long[] { 2, 4, 4 }, bias.shape);
        Assert.Equal(0f, bias[0, 3, 3].item<float>());
        Assert.Equal(-3 * 0.0625f, bias[0, 3, 0].item<float>(), 6);                   // slopes 1/16, 1/256
        Assert.True(float.IsNegativeInfinity(bias[0, 0, 1].item<float>()));
    }

    [Fact]
    public void WindowHidesOldKeys()
    {
        var m = CausalMask.Additive(5, 5, window: 2);
        Assert.Equal(0f, m[4, 3].item<float>());
        Assert.True(float.IsNegativeInfinity(m[4, 2].item<float>()));
        Assert.True(float.IsNegativeInfinity(m[1, 2].item<float>()));
        Assert.Throws<ArgumentOutOfRangeException>(() => CausalMask.Additive(3, 3, window: 0));
    }
}
