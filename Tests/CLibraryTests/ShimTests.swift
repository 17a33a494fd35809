import Foundation
import Testing
import CJansson
import CMicroHTTPD
import COpenBLAS

/// The C shims compile, link and do what their wrappers promise.
@Suite("C library shims")
struct ShimTests {
    @Test("jansson: macros wrapped in shim.h behave like the originals")
    func jansson() throws {
        var error = json_error_t()
        let text = #"{"a": 0.1, "b": [1, true, null], "a2": "x"}"#
        let root = try #require(text.withCString { json_loads($0, sj_reject_duplicates(), &error) })
        defer { sj_decref(root) }
        #expect(sj_is_object(root) == 1)
        let a = try #require(json_object_get(root, "a"))
        #expect(sj_is_real(a) == 1 && sj_is_number(a) == 1 && sj_is_integer(a) == 0)
        let b = try #require(json_object_get(root, "b"))
        #expect(sj_is_array(b) == 1)
        #expect(sj_is_integer(json_array_get(b, 0)) == 1)
        #expect(sj_is_true(json_array_get(b, 1)) == 1 && sj_is_boolean(json_array_get(b, 1)) == 1)
        #expect(sj_is_null(json_array_get(b, 2)) == 1)
        // JSON_REAL_PRECISION(n) through its wrapper controls the digits written.
        let value = try #require(json_real(0.1))
        defer { sj_decref(value) }
        let short = try #require(json_dumps(value, sj_real_precision(3) | sj_encode_any()))
        let long = try #require(json_dumps(value, sj_real_precision(17) | sj_encode_any()))
        defer { free(short); free(long) }
        #expect(String(cString: short) == "0.1")
        #expect(String(cString: long) == "0.10000000000000001")
        // Duplicate keys are rejected with the flag.
        let dup = #"{"a": 1, "a": 2}"#.withCString { json_loads($0, sj_reject_duplicates(), &error) }
        #expect(dup == nil)
    }

    @Test("OpenBLAS: one thread after the shim pins it, and sgemm computes")
    func openblas() {
        sb_set_single_threaded()
        #expect(sb_num_threads() == 1)
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // 2×3
        let b: [Float] = [1, 0, -1, 2, 1, 0]  // 2×3, used as Bᵀ
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 2, 3, 1, a, 3, b, 3, 0, &c, 2)
        #expect(c == [-2, 4, -2, 13])
        #expect(!String(cString: sb_config()).isEmpty)
    }

    @Test("libmicrohttpd: the non-variadic start wrapper serves on an ephemeral loopback port")
    func microhttpd() throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let daemon = try withUnsafePointer(to: &address) { ptr in
            try ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                var settings = smhd_settings()
                settings.flags = UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_ERROR_LOG.rawValue)
                settings.bind_addr = sa
                settings.connection_limit = 8
                settings.connection_timeout_s = 5
                return try #require(smhd_start_daemon(&settings, shimTestHandler, nil, nil, nil))
            }
        }
        defer { MHD_stop_daemon(daemon) }
        let port = smhd_bound_port(daemon)
        #expect(port != 0)

        // A raw HTTP/1.0 request over a loopback socket.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = port.bigEndian
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = "GET /probe HTTP/1.0\r\nHost: localhost\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.0 200") || text.hasPrefix("HTTP/1.1 200"))
        #expect(text.hasSuffix("fd-ok /probe"))
    }
}

/// Answers every request with "fd-ok <url>" when the connection-info wrapper finds a socket.
private func shimTestHandler(_ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
                             _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
                             _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
                             _ uploadSize: UnsafeMutablePointer<Int>?,
                             _ state: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> MHD_Result {
    let fdOK = smhd_connection_fd(connection) >= 0
    let body = (fdOK ? "fd-ok " : "fd-missing ") + String(cString: url!)
    let response = body.withCString { smhd_response_from_copy(strlen($0), $0) }
    defer { MHD_destroy_response(response) }
    return MHD_queue_response(connection, 200, response)
}
