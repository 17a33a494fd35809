import COpenBLAS

/// The dense-math entry points ScoreServe uses, over OpenBLAS's CBLAS.
///
/// OpenBLAS is pinned to one thread the first time any of these runs: parallelism
/// comes from Dispatch across trajectories, never from nested BLAS threads.
public enum BLAS {
    private static let configured: Bool = {
        sb_set_single_threaded()
        return true
    }()

    /// Pins OpenBLAS to one thread (idempotent, thread-safe).
    public static func configure() { _ = configured }

    /// Threads OpenBLAS is currently allowed to use.
    public static var threadCount: Int { configure(); return Int(sb_num_threads()) }

    /// Whether this OpenBLAS was built without threading (e.g. Debian's
    /// libopenblas0-serial). Such builds share unlocked buffers between calls, so
    /// concurrent `sgemm` calls from several workers can corrupt each other's results
    /// (seen here: 2 of 30 identical requests differed), unless built with USE_LOCKING=1.
    public static var isSequentialBuild: Bool { sb_parallel() == 0 }

    /// What to tell a user who runs `threads` sampling threads on this OpenBLAS, if
    /// anything (a sequential build with more than one thread).
    public static func concurrencyWarning(threads: Int) -> String? {
        guard isSequentialBuild && threads > 1 else { return nil }
        return """
            OpenBLAS is a sequential build (\(description)): unless it was built with USE_LOCKING=1, \
            concurrent calls from the \(threads) sampling threads can corrupt results. Install the pthread \
            build (libopenblas0-pthread) and keep OPENBLAS_NUM_THREADS=1, or use 1 thread.
            """
    }

    /// OpenBLAS's build configuration and the core kernel it selected.
    public static var description: String {
        "\(String(cString: sb_config())) core=\(String(cString: sb_core_name()))"
    }

    /// `C[m×n] = alpha · A[m×k] · Bᵀ + beta · C`, all row-major, where `B` is stored
    /// `[n×k]` like an `nn.Linear` weight. This is the shape of every linear layer:
    /// rows of activations times a transposed weight.
    @inline(__always)
    public static func linear(m: Int, n: Int, k: Int,
                              alpha: Float = 1,
                              a: UnsafePointer<Float>, lda: Int? = nil,
                              weight b: UnsafePointer<Float>,
                              beta: Float,
                              c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        configure()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                    blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda ?? k), b, blasint(k),
                    beta, c, blasint(ldc ?? n))
    }

    /// Rows per OpenBLAS call where rows must not affect each other (the `empirical`
    /// network; the mlp's own kernels need no grouping), and the engine's chunk grain.
    ///
    /// OpenBLAS chooses its kernel (and with it the summation order) from the matrix
    /// sizes: on this project's machines a row's result for M ≤ 4 differs in the last
    /// bits from the same row in a larger call, while within calls of one fixed M a
    /// row's result depends only on that row. Issuing every call with exactly this
    /// many rows makes each sample's numbers independent of how many samples share
    /// its batch, chunk or thread: the determinism guarantee rests on it. Four rows
    /// also land in OpenBLAS's fast small-matrix kernels for small layers.
    public static let rowGroup = 4

    /// Rounds `rows` up to a multiple of `rowGroup`.
    @inline(__always)
    public static func paddedRows(_ rows: Int) -> Int { (rows + rowGroup - 1) / rowGroup * rowGroup }

    /// General row-major `C = alpha · op(A) · op(B) + beta · C` in Float32.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        configure()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda),
                    b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// General row-major `C = alpha · op(A) · op(B) + beta · C` in Float64.
    public static func dgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                             alpha: Double, a: UnsafePointer<Double>, lda: Int,
                             b: UnsafePointer<Double>, ldb: Int,
                             beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        configure()
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda),
                    b, blasint(ldb), beta, c, blasint(ldc))
    }
}
