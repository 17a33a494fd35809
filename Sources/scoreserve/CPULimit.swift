import Foundation

/// The CPUs this process may use: the tightest cgroup CPU quota on the way from this
/// process's cgroup up to the root (a container's or Kubernetes' limit, systemd's
/// `CPUQuota=`), else the active processors.
enum CPULimit {
    static func available() -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let quotas = cgroupV2Quotas() + (cgroupV1Quota().map { [$0] } ?? [])
        guard let tightest = quotas.min() else { return cores }
        return max(1, min(cores, Int(tightest.rounded(.up))))
    }

    /// cgroup v2: `cpu.max` ("max 100000" or "200000 100000": quota and period in µs) of
    /// this process's cgroup and each of its ancestors that the mount shows.
    static func cgroupV2Quotas(root: String = "/sys/fs/cgroup", selfCgroup: String = "/proc/self/cgroup") -> [Double] {
        // "0::/system.slice/scoreserve.service"; inside a container's cgroup namespace "0::/".
        let line = (try? String(contentsOfFile: selfCgroup, encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("0::") }
        var path = line.map { String($0.dropFirst(3)) } ?? "/"
        var quotas: [Double] = []
        while true {
            if let text = try? String(contentsOfFile: root + (path == "/" ? "" : path) + "/cpu.max", encoding: .utf8),
               let quota = quota(text) {
                quotas.append(quota)
            }
            if path == "/" || path.isEmpty { return quotas }
            path = (path as NSString).deletingLastPathComponent
        }
    }

    /// CPUs granted by a `cpu.max` line, nil for "max".
    static func quota(_ cpuMax: String) -> Double? {
        let parts = cpuMax.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), quota > 0, period > 0 else {
            return nil
        }
        return quota / period
    }

    /// cgroup v1: `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 when unlimited).
    static func cgroupV1Quota() -> Double? {
        guard let q = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding: .utf8),
              let p = try? String(contentsOfFile: "/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding: .utf8),
              let quota = Double(q.trimmingCharacters(in: .whitespacesAndNewlines)),
              let period = Double(p.trimmingCharacters(in: .whitespacesAndNewlines)), quota > 0, period > 0 else {
            return nil
        }
        return quota / period
    }
}
