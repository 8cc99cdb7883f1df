using PathNotebooks.PaTH;
using F = TorchSharp.torch.nn.functional;

namespace PathNotebooks.Tests.PaTH;

[Collection("torch")]
public class HouseholderTests
{
    [Fact]
    public void ApplyEqualsMatrixProduct()
    {
        var g = new Generator(1);
        var w = F.normalize(randn(new long[] { 3, 5 }, generator: g, dtype: ScalarType.Float64), p: 2, dim: -1);
        var beta = 2 * rand(new long[] { 3 }, generator: g, dtype: ScalarType.Float64);
        var x = randn(new long[] { 3, 5 }, generator: g, dtype: ScalarType.Float64);
        var rows = randn(new long[] { 3, 7, 5 }, generator: g, dtype: ScalarType.Float64);
        var h = Householder.Matrix(w, beta);                                           // [3, 5, 5]
        Assert.True(Compare.RelativeError(Householder.Apply(x, w, beta), h.matmul(x.unsqueeze(-1)).squeeze(-1)) < 1e-14);
        Assert.True(Compare.RelativeError(Householder.Apply(rows, w, beta), rows.matmul(h)) < 1e-14);
        // eigenvalue 1 − β along w: H w = (1 − β) w
        Assert.True(Compare.RelativeError(Householder.Apply(w, w, beta), (1 - beta).unsqueeze(-1) * w) < 1e-14);
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 1e-5)]
    public void UTFormEqualsExplicitProduct(ScalarType dtype, double tolerance)
    {
        var g = new Generator(2);
        var w = F.normalize(randn(new long[] { 2, 12, 6 }, generator: g, dtype: ScalarType.Float64), p: 2, dim: -1);
        var beta = 2 * rand(new long[] { 2, 12 }, generator: g, dtype: ScalarType.Float64);
        var explicitProduct = Householder.Product(w, beta);
        var prefixes = Householder.CumulativeProducts(w, beta);                        // [2, 12, 6, 6]
        Assert.True(Compare.RelativeError(prefixes[.., 11], explicitProduct) < 1e-12);
        Assert.True(Compare.RelativeError(prefixes[.., 4], Householder.Product(w, beta, 0, 4)) < 1e-12);
        var ut = Householder.UT(w.to(dtype), beta.to(dtype));
        Assert.True(Compare.RelativeError(Householder.ProductFromUT(w.to(dtype), ut.U), explicitProduct) < tolerance);
        // T is unit lower-triangular
        Assert.True(ut.T.triu(1).abs().max().to(ScalarType.Float64).item<double>() == 0);
        Assert.True(Compare.RelativeError(ut.T.diagonal(0, -2, -1), ones(2, 12)) == 0);
        // masked sub-products: the diagonal block a..b of T gives H_b ⋯ H_a
        int a = 3, b = 8;
        var sub = ut.T[.., a..(b + 1), a..(b + 1)].matmul(beta.to(dtype)[.., a..(b + 1)].unsqueeze(-1) * w.to(dtype)[.., a..(b + 1)]);
        Assert.True(Compare.RelativeError(Householder.ProductFromUT(w.to(dtype)[.., a..(b + 1)], sub), Householder.Product(w, beta, a, b)) < tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(37)]
    public void BlockwiseInverseEqualsTriangularSolve(int size)
    {
        var g = new Generator(9);
        var a = randn(new long[] { 3, 2, size, size }, generator: g, dtype: ScalarType.Float64).tril(-1);
        var solve = Householder.InverseUnitLower(a);
        var blockwise = Householder.InverseUnitLowerBlockwise(a);
        Assert.True(Compare.RelativeError(blockwise, solve) < 1e-10, $"{Compare.RelativeError(blockwise, solve)}");
        var identity = eye(size, dtype: ScalarType.Float64);
        Assert.True(Compare.RelativeError((a + identity).matmul(blockwise), identity.expand(3, 2, size, size)) < 1e-10);
    }

    [Fact]
    public void UTGivesTheSameFormWithEitherInverse()
    {
        var g = new Generator(12);
        var w = F.normalize(randn(new long[] { 2, 3, 40, 8 }, generator: g, dtype: ScalarType.Float64), p: 2, dim: -1);
        var beta = 2 * rand(new long[] { 2, 3, 40 }, generator: g, dtype: ScalarType.Float64);
        var blockwise = Householder.UT(w, beta, UnitLowerInverse.Blockwise);
        var solve = Householder.UT(w, beta, UnitLowerInverse.TriangularSolve);
        Assert.True(Compare.RelativeError(solve.T, blockwise.T) < 1e-10);
        Assert.True(Compare.RelativeError(solve.U, blockwise.U) < 1e-10);
        Assert.True(Compare.RelativeError(Householder.ProductFromUT(w, solve.U), Householder.Product(w, beta)) < 1e-10);
    }

    [Fact]
    public void UTFormIsStableForRepeatedVectorsWithBetaNearTwo()
    {
        // 64 copies of the same w with β = 1.999: the case that breaks power-series inverses in fp32.
        var w1 = F.normalize(randn(new long[] { 16 }, generator: new Generator(3), dtype: ScalarType.Float64), p: 2, dim: -1);
        var w = w1.expand(64, 16).contiguous();
        var beta = full(64, 1.999, dtype: ScalarType.Float64);
        var explicitProduct = Householder.Product(w, beta);
        var ut64 = Householder.UT(w, beta);
        var ut32 = Householder.UT(w.to(ScalarType.Float32), beta.to(ScalarType.Float32));
        Assert.True(Compare.RelativeError(Householder.ProductFromUT(w, ut64.U), explicitProduct) < 1e-10);
        Assert.True(Compare.RelativeError(Householder.ProductFromUT(w.to(ScalarType.Float32), ut32.U), explicitProduct) < 1e-4);
        Assert.True(isfinite(ut32.T).all().item<bool>());
        var a32 = (beta.unsqueeze(-1) * w).matmul(w.T).tril(-1).to(ScalarType.Float32);
        Assert.True(Compare.RelativeError(Householder.InverseUnitLower(a32), ut64.T) < 1e-4);
        // and the whole kernel stays exact on such inputs
        var q = randn(new long[] { 1, 1, 64, 16 }, generator: new Generator(4), dtype: ScalarType.Float64);
        var k = randn(new long[] { 1, 1, 64, 16 }, generator: new Generator(5), dtype: ScalarType.Float64);
        var wb = w.view(1, 1, 64, 16); var bb = beta.view(1, 1, 64);
        var reference = PathAttentionNaive.Forward(q, k, k, wb, bb);
        var fp32 = PathAttentionChunked.Forward(q.to(ScalarType.Float32), k.to(ScalarType.Float32), k.to(ScalarType.Float32),
            wb.to(ScalarType.Float32), bb.to(ScalarType.Float32), null, 64);
        Assert.True(Compare.RelativeError(fp32, reference) < 1e-3, $"{Compare.RelativeError(fp32, reference)}");
    }
}
