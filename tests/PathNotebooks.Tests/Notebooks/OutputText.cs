using System.Text.Json.Nodes;

namespace PathNotebooks.Tests.Notebooks;

/// <summary>The text inside executed notebook outputs, for tests that look for what a cell printed.</summary>
static class OutputText
{
    /// <summary>Every string inside an output (stream text, text/plain, …).</summary>
    public static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => new[] { s },
        JsonArray a => a.SelectMany(Strings),
        JsonObject o => o.SelectMany(kv => Strings(kv.Value)),
        _ => Array.Empty<string>(),
    };
}
