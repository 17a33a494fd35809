import Foundation

/// The CPUs this process may use: the container's cgroup CPU quota when one is set
/// (Kubernetes limits), else the active processors.
enum CPULimit {
    static func available() -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // cgroup v2: "max 100000" or "200000 100000" (quota, period in µs).
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/cpu.max", encoding: .utf8) {
            let parts = text.split(whereSeparator: \.isWhitespace)
            if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 {
                return max(1, min(cores, Int((quota / period).rounded(.up))))
            }
        }
        // cgroup v1.
        if let q = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding: .utf8),
           let p = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding: .utf8),
           let quota = Double(q.trimmingCharacters(in: .whitespacesAndNewlines)),
           let period = Double(p.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0, period > 0 {
            return max(1, min(cores, Int((quota / period).rounded(.up))))
        }
        return cores
    }
}
