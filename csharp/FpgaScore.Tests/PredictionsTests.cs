namespace FpgaScore.Tests;

/// <summary>Top-k and the embedded ImageNet labels.</summary>
public class PredictionsTests
{
    [Fact]
    public void LabelsAreEmbeddedWithZeroBasedIds()
    {
        Assert.Equal(1000, ImageNetLabels.All.Count);
        Assert.Equal("tench", ImageNetLabels.Get(0));
        Assert.Equal("goldfish", ImageNetLabels.Get(1));
        Assert.Equal("class 1000", ImageNetLabels.Get(1000));
    }

    [Fact]
    public void TopKIsBestFirstWithLabels()
    {
        var scores = new float[1000];
        scores[207] = 0.5f;
        scores[1] = 0.3f;
        scores[999] = 0.2f;
        var top = Predictions.TopK(scores, 3);
        Assert.Equal([207, 1, 999], top.Select(p => p.ClassId));
        Assert.Equal(ImageNetLabels.Get(207), top[0].Label);
        Assert.Equal(0.5f, top[0].Score);
        Assert.Equal(5, Predictions.TopK(scores).Count);
    }

    [Fact]
    public void TiesGoToTheLowerClassIdAndNaNLast()
    {
        float[] scores = [float.NaN, 0.5f, 0.5f, 0.1f];
        Assert.Equal([1, 2, 3, 0], Predictions.TopK(scores, 10).Select(p => p.ClassId));
    }

    [Fact]
    public void TopKPerRowOfABatch()
    {
        var scores = new float[2, 1000];
        scores[0, 5] = 1;
        scores[1, 9] = 1;
        var rows = Predictions.TopK(scores, 1);
        Assert.Equal(5, rows[0][0].ClassId);
        Assert.Equal(9, rows[1][0].ClassId);
    }
}
