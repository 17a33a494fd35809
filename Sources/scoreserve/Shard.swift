import ArgumentParser

/// Shard `index` of `count` of a job of `total` samples: `⌊total/count⌋` samples each,
/// the last shard taking the remainder, so the shards in index order are exactly the
/// samples 0 … total−1 of one request.
struct Shard: Equatable {
    /// First sample (relative to the job's offset) and number of samples of this shard.
    let offset: Int, size: Int

    /// Parses `I/K` (as a Kubernetes Indexed Job passes `$(JOB_COMPLETION_INDEX)/K`).
    init(_ text: String, total: Int) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let k = Int(parts[1]) else {
            throw ValidationError("--shard: expected I/K with integers, e.g. 0/4, got '\(text)'")
        }
        guard k >= 1, (0..<k).contains(i) else {
            throw ValidationError("--shard \(text): K must be at least 1 and I one of 0 … K−1")
        }
        guard k <= total else {
            throw ValidationError("--shard \(text): \(k) shards of --n \(total) samples would leave some empty")
        }
        let base = total / k
        offset = i * base
        size = i == k - 1 ? total - base * (k - 1) : base
    }
}
