using FpgaScore.V1;
using Google.Protobuf;
using Grpc.Core;

namespace FpgaScore;

/// <summary>
/// One or more encoded images (JPEG, PNG, ...) scored in one call: a <c>DT_STRING</c> tensor of shape [N],
/// one element per image, the bytes untouched.
/// </summary>
/// <remarks>
/// Streams are read to their end once, in the constructor, so the request can be sent again and the
/// streams may be closed afterwards. One image scores into a <c>float[]</c>, a batch into <c>float[,]</c>.
/// An empty batch or an empty image throws <see cref="ScoringException"/> with <c>InvalidArgument</c>.
/// </remarks>
public sealed class ImageRequest : IScoringRequest
{
    private readonly ByteString[] _images;

    /// <summary>Reads each stream from its current position to its end.</summary>
    public ImageRequest(params Stream[] images)
        : this(ReadAll(images))
    {
    }

    /// <summary>Images as byte arrays (copied).</summary>
    public ImageRequest(params byte[][] images)
        : this(Copy(images))
    {
    }

    /// <summary>Images as byte arrays (copied).</summary>
    public ImageRequest(IEnumerable<byte[]> images)
        : this(Copy(images?.ToArray()!))
    {
    }

    private ImageRequest(ByteString[] images)
    {
        if (images.Length == 0)
            throw new ScoringException(StatusCode.InvalidArgument, "empty batch: at least one image is needed");
        for (int i = 0; i < images.Length; i++)
            if (images[i].IsEmpty)
                throw new ScoringException(StatusCode.InvalidArgument, $"image {i} is empty");
        _images = images;
    }

    /// <summary>Reads the files at <paramref name="paths"/> (one image each).</summary>
    /// <exception cref="ScoringException"><c>InvalidArgument</c> naming the file when one cannot be read (missing,
    /// a directory, no permission), as for an empty one.</exception>
    public static ImageRequest FromFiles(params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var images = new ByteString[paths.Length];
        for (int i = 0; i < paths.Length; i++)
            images[i] = UnsafeByteOperations.UnsafeWrap(ReadFile(paths[i] ?? throw new ArgumentNullException(nameof(paths), $"path {i} is null")));
        return new ImageRequest(images);
    }

    /// <summary>The bytes of the file at <paramref name="path"/>; a file that cannot be read is <c>InvalidArgument</c> naming it.</summary>
    internal static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied or a directory",
                _ => e.Message,
            };
            throw new ScoringException(StatusCode.InvalidArgument, $"cannot read '{path}': {why}");
        }
    }

    /// <summary>How many images the request holds (N).</summary>
    public int Count => _images.Length;

    /// <summary>The bytes of image <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> this[int index] => _images[index].Memory;

    /// <inheritdoc />
    public PredictRequest BuildRequest(RequestSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Tensors.Request(settings, Tensors.Strings(_images));
    }

    // The exceptions name the public constructors' parameter, images (CA2208 sees only this helper's).
#pragma warning disable CA2208
    private static ByteString[] ReadAll(Stream[] streams)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var images = new ByteString[streams.Length];
        for (int i = 0; i < streams.Length; i++)
        {
            var stream = streams[i] ?? throw new ArgumentNullException(nameof(images), $"image stream {i} is null");
            images[i] = ByteString.FromStream(stream);
        }
        return images;
    }

    private static ByteString[] Copy(byte[][] arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays, "images");
        var images = new ByteString[arrays.Length];
        for (int i = 0; i < arrays.Length; i++)
            images[i] = ByteString.CopyFrom(arrays[i] ?? throw new ArgumentNullException("images", $"image {i} is null"));
        return images;
    }
#pragma warning restore CA2208
}
