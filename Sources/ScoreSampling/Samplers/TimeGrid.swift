/// score_sde's `linspace(T, eps, steps)`: t_k = T − k(T − eps)/(steps − 1).
@inline(__always)
func linspaceTime(_ k: Int, steps: Int, T: Double, eps: Double) -> Double {
    steps == 1 ? T : T - Double(k) * (T - eps) / Double(steps - 1)
}

