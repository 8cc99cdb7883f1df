using PathNotebooks.Runtime;

namespace PathNotebooks.Tests.Runtime;

[Collection("torch")]
public class CustomGradientsTests
{
    [Fact]
    public void ReceivedHandlesGoAtOnceReturnedOnesAtTheNextBackward()
    {
        CustomGradients.ReleasePrevious();
        var gradient = ones(3);
        var saved = zeros(2);
        var upstream = zeros(2);
        var returned = CustomGradients.Return(new Tensor?[] { gradient, null }, new[] { saved, upstream });
        Assert.Equal(2, returned.Count);
        Assert.Same(gradient, returned[0]);
        Assert.Null(returned[1]);
        Assert.True(saved.IsInvalid && upstream.IsInvalid, "handles given to backward are released when it returns");
        Assert.False(gradient.IsInvalid, "libtorch copies returned gradients only after backward returns");
        using (var scope = NewDisposeScope()) { }
        Assert.False(gradient.IsInvalid, "returned gradients belong to no dispose scope");
        var next = ones(1);
        CustomGradients.Return(new Tensor?[] { next }, Array.Empty<Tensor>());
        Assert.True(gradient.IsInvalid, "the next backward releases the previous one's gradients");
        Assert.False(next.IsInvalid);
        CustomGradients.ReleasePrevious();
        Assert.True(next.IsInvalid);
    }

    [Fact]
    public void RepeatedBackwardPassesKeepTheirGradients()
    {
        // Each backward releases the previous one's returned handles; the gradients libtorch accumulated must survive.
        var q = randn(new long[] { 1, 2, 20, 4 }, dtype: ScalarType.Float64).requires_grad_(true);
        var k = randn(new long[] { 1, 2, 20, 4 }, dtype: ScalarType.Float64).requires_grad_(true);
        var v = randn(new long[] { 1, 2, 20, 4 }, dtype: ScalarType.Float64).requires_grad_(true);
        var w = nn.functional.normalize(randn(new long[] { 1, 2, 20, 4 }, dtype: ScalarType.Float64), p: 2, dim: -1).requires_grad_(true);
        var beta = rand(new long[] { 1, 2, 20 }, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor? first = null;
        for (int i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            foreach (var t in new[] { q, k, v, w, beta }) t.grad?.zero_();
            PathNotebooks.PaTH.PathAttentionChunked.Forward(q, k, v, w, beta, chunkSize: 8).square().sum().backward();
            var g = cat(new[] { q.grad!.flatten(), k.grad!.flatten(), v.grad!.flatten(), w.grad!.flatten(), beta.grad!.flatten() });
            if (first is null) first = g.clone().DetachFromDisposeScope();
            else Assert.True(Compare.RelativeError(g, first) < 1e-14);
        }
    }
}
