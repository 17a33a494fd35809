import Foundation

/// The write end of the pipe the stop-signal handler writes to. Set once before the
/// handlers are installed; a signal handler may only touch such plain storage.
nonisolated(unsafe) private var stopSignalFD: Int32 = -1

/// SIGTERM/SIGINT delivered through a self-pipe: the handler writes the signal number
/// (write(2) is async-signal-safe) and a thread blocked in `wait` reads it.
enum StopSignals {
    /// Installs the handlers; returns the pipe's read end.
    static func install() -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { fatalError("cannot create the signal pipe") }
        stopSignalFD = fds[1]
        for sig in [SIGTERM, SIGINT] {
            signal(sig) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(stopSignalFD, &byte, 1)
            }
        }
        return fds[0]
    }

    /// Blocks until a stop signal arrives; returns its number.
    static func wait(_ fd: Int32) -> Int32 {
        var byte: UInt8 = 0
        while read(fd, &byte, 1) != 1 {}
        return Int32(byte)
    }
}
