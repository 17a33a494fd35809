import Foundation

/// This process's resident memory, from /proc/self/status (Linux).
public enum ResidentMemory {
    /// VmRSS in bytes (0 where /proc is missing).
    public static func current() -> Int { field("VmRSS:") }
    /// VmHWM, the peak resident size so far, in bytes.
    public static func peak() -> Int { field("VmHWM:") }

    /// VmRSS of another process, in bytes.
    public static func current(pid: Int32) -> Int { field("VmRSS:", path: "/proc/\(pid)/status") }

    private static func field(_ name: String, path: String = "/proc/self/status") -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return 0 }
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
}
