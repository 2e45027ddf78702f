import Foundation
import PHMCore

/// L2-regularised logistic regression on standardised features, fitted by Newton's method.
///
/// Minimises the log loss summed over people plus `lambda / 2` times the squared coefficients
/// (the intercept is not penalised), the objective of scikit-learn's `LogisticRegression` with
/// `C = 1 / lambda` on `StandardScaler` output. Each Newton step solves the penalised Hessian
/// system by Cholesky; with a few dozen features the Hessian is small and the fit converges in
/// under ten steps (Hastie, Tibshirani and Friedman, *Elements of Statistical Learning*, 4.4.1).
public struct LogisticRegression: Sendable, Codable {
    public var features: [String]
    public var mean: [Double]
    public var scale: [Double]
    /// Coefficients on the standardised features.
    public var coefficients: [Double]
    public var intercept: Double
    public var lambda: Double
    public var iterations: Int

    /// Fits the model to every row of `x`.
    ///
    /// - Complexity: O(rows x columns^2) per Newton step, rows split across all cores.
    public static func train(_ x: FeatureMatrix, labels: [UInt8], lambda: Double = 1) -> LogisticRegression {
        let n = x.rows, p = x.columns
        precondition(labels.count == n && n > 0)
        // Standardise into a fresh buffer; constant columns get scale 1 and contribute nothing.
        var mean = [Double](repeating: 0, count: p), scale = [Double](repeating: 1, count: p)
        var z = FeatureMatrix(features: x.features, rows: n)
        for j in 0..<p {
            let column = x.values[j * n..<(j + 1) * n]
            let m = column.reduce(0.0) { $0 + Double($1) } / Double(n)
            let v = column.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(n)
            mean[j] = m
            scale[j] = v > 1e-12 ? v.squareRoot() : 1
            for i in 0..<n { z.values[j * n + i] = Float((Double(x.values[j * n + i]) - m) / scale[j]) }
        }

        let d = p + 1  // intercept last
        var beta = [Double](repeating: 0, count: d)
        let prevalence = Double(labels.reduce(0) { $0 + Int($1) }) / Double(n)
        beta[p] = log(max(prevalence, 1e-6) / max(1 - prevalence, 1e-6))
        // A fixed number of chunks, so sums (and the fit) do not depend on the number of cores.
        let chunks = Parallel.ranges(n, parts: 64)
        var iterations = 0
        var previousLoss = Double.infinity
        for _ in 0..<50 {
            iterations += 1
            let current = beta, standardised = z
            let partials = Parallel.map(chunks.count) { k in
                newtonTerms(standardised, labels: labels, beta: current, rows: chunks[k])
            }
            var gradient = [Double](repeating: 0, count: d)
            var hessian = [Double](repeating: 0, count: d * d)
            var loss = 0.0
            for part in partials {
                for a in 0..<d { gradient[a] += part.gradient[a] }
                for a in 0..<(d * d) { hessian[a] += part.hessian[a] }
                loss += part.loss
            }
            for j in 0..<p {
                gradient[j] += lambda * beta[j]
                hessian[j * d + j] += lambda
                loss += 0.5 * lambda * beta[j] * beta[j]
            }
            for a in 0..<d { for b in 0..<a { hessian[a * d + b] = hessian[b * d + a] } }
            guard let step = solveCholesky(hessian, gradient, size: d) else { break }
            // Backtracking: halve the Newton step until the penalised loss falls (near-separable
            // data can make a full step overshoot).
            var t = 1.0
            var candidate = beta
            var accepted = false
            for _ in 0..<30 {
                for a in 0..<d { candidate[a] = beta[a] - t * step[a] }
                let trial = objective(standardised, labels: labels, beta: candidate, lambda: lambda, chunks: chunks)
                if trial <= loss + 1e-12 * abs(loss) {
                    accepted = true
                    break
                }
                t /= 2
            }
            guard accepted else { break }
            let change = step.map { abs($0) * t }.max() ?? 0
            beta = candidate
            if change < 1e-7 || abs(previousLoss - loss) < 1e-10 * max(1, abs(loss)) { break }
            previousLoss = loss
        }
        return LogisticRegression(
            features: x.features.map(\.id), mean: mean, scale: scale, coefficients: Array(beta[0..<p]), intercept: beta[p],
            lambda: lambda, iterations: iterations)
    }

    /// The penalised log loss at `beta`.
    private static func objective(_ z: FeatureMatrix, labels: [UInt8], beta: [Double], lambda: Double, chunks: [Range<Int>])
        -> Double
    {
        let p = z.columns, n = z.rows
        let parts = Parallel.map(chunks.count) { k -> Double in
            let rows = chunks[k]
            var eta = [Double](repeating: beta[p], count: rows.count)
            z.values.withUnsafeBufferPointer { values in
                for j in 0..<p {
                    let b = beta[j]
                    let column = values.baseAddress! + j * n + rows.lowerBound
                    for i in 0..<rows.count { eta[i] += b * Double(column[i]) }
                }
            }
            var loss = 0.0
            for i in 0..<rows.count {
                let y = Double(labels[rows.lowerBound + i])
                loss += (eta[i] > 0 ? eta[i] + log1p(exp(-eta[i])) : log1p(exp(eta[i]))) - y * eta[i]
            }
            return loss
        }
        var total = parts.reduce(0, +)
        for j in 0..<p { total += 0.5 * lambda * beta[j] * beta[j] }
        return total
    }

    /// Gradient, upper triangle of the Hessian and log loss over some rows.
    private static func newtonTerms(_ z: FeatureMatrix, labels: [UInt8], beta: [Double], rows: Range<Int>) -> (
        gradient: [Double], hessian: [Double], loss: Double
    ) {
        let n = z.rows, p = z.columns, d = p + 1
        var gradient = [Double](repeating: 0, count: d)
        var hessian = [Double](repeating: 0, count: d * d)
        var loss = 0.0
        let m = rows.count
        var eta = [Double](repeating: beta[p], count: m)
        var residual = [Float](repeating: 0, count: m)
        var weight = [Float](repeating: 0, count: m)
        var weighted = [Float](repeating: 0, count: min(m, dotBlock))
        z.values.withUnsafeBufferPointer { values in
            for j in 0..<p {
                let b = beta[j]
                let column = values.baseAddress! + j * n + rows.lowerBound
                for i in 0..<m { eta[i] += b * Double(column[i]) }
            }
            for i in 0..<m {
                let prob = 1 / (1 + exp(-eta[i]))
                let y = Double(labels[rows.lowerBound + i])
                residual[i] = Float(prob - y)
                weight[i] = Float(max(prob * (1 - prob), 1e-12))
                // log(1 + e^eta) - y * eta, computed without overflow
                loss += (eta[i] > 0 ? eta[i] + log1p(exp(-eta[i])) : log1p(exp(eta[i]))) - y * eta[i]
                gradient[p] += prob - y
                hessian[p * d + p] += Double(weight[i])
            }
            for j in 0..<p { gradient[j] = dot(values.baseAddress! + j * n + rows.lowerBound, residual, m) }
            // The Hessian a block of `dotBlock` rows at a time, so the block's columns stay in
            // cache while every pair of them is multiplied; each entry adds the same block sums in
            // the same order as one `dot` over all the rows would.
            hessian.withUnsafeMutableBufferPointer { hessian in
                weighted.withUnsafeMutableBufferPointer { weighted in
                    weight.withUnsafeBufferPointer { weight in
                        var start = 0
                        while start < m {
                            let count = min(m, start + dotBlock) - start
                            for j in 0..<p {
                                let xj = values.baseAddress! + j * n + rows.lowerBound + start
                                var weightedSum = hessian[j * d + p]
                                for i in 0..<count {
                                    weighted[i] = weight[start + i] * xj[i]
                                    weightedSum += Double(weighted[i])
                                }
                                hessian[j * d + p] = weightedSum
                                let column = { (k: Int) in values.baseAddress! + k * n + rows.lowerBound + start }
                                var k = j
                                while k + 4 <= p {
                                    let sums = dot4(
                                        column(k), column(k + 1), column(k + 2), column(k + 3), weighted.baseAddress!, count)
                                    for l in 0..<4 { hessian[j * d + k + l] += sums[l] }
                                    k += 4
                                }
                                while k < p {
                                    hessian[j * d + k] += dot(column(k), weighted.baseAddress!, count)
                                    k += 1
                                }
                            }
                            start += count
                        }
                    }
                }
            }
        }
        return (gradient, hessian, loss)
    }

    /// The probability of the outcome for row `i` of `x`, whose columns are this model's features.
    @inline(__always)
    public func probability(_ x: FeatureMatrix, row i: Int) -> Double {
        1 / (1 + exp(-linear(x, row: i)))
    }

    public func linear(_ x: FeatureMatrix, row i: Int) -> Double {
        var eta = intercept
        for j in coefficients.indices { eta += coefficients[j] * (Double(x[i, j]) - mean[j]) / scale[j] }
        return eta
    }

    /// Each feature's contribution to the log-odds of row `i`, relative to an average person.
    public func contributions(_ x: FeatureMatrix, row i: Int) -> [Double] {
        coefficients.indices.map { j in coefficients[j] * (Double(x[i, j]) - mean[j]) / scale[j] }
    }
}

extension LogisticRegression {
    /// A saved model is refused as it is read unless it has a mean, a scale and a coefficient for
    /// each of its features.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        features = try c.decode([String].self, forKey: .features)
        mean = try c.decode([Double].self, forKey: .mean)
        scale = try c.decode([Double].self, forKey: .scale)
        coefficients = try c.decode([Double].self, forKey: .coefficients)
        intercept = try c.decode(Double.self, forKey: .intercept)
        lambda = try c.decode(Double.self, forKey: .lambda)
        iterations = try c.decode(Int.self, forKey: .iterations)
        guard mean.count == features.count, scale.count == features.count, coefficients.count == features.count else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: c.codingPath,
                    debugDescription:
                        "\(features.count) features with \(mean.count) means, \(scale.count) scales and \(coefficients.count) coefficients"
                ))
        }
    }
}

/// The rows a `dot` sums in single precision before adding to its double-precision total.
let dotBlock = 4096

/// A dot product of floats, summed in eight lanes of single precision per block of `dotBlock`
/// and in double precision across blocks.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Double {
    var total = 0.0
    var start = 0
    while start < count {
        let end = min(count, start + dotBlock)
        var lanes = SIMD8<Float>(repeating: 0)
        var i = start
        while i + 8 <= end {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            lanes += x * y  // not addProduct: without FMA in the target it becomes a libm call per lane
            i += 8
        }
        var sum = Double(lanes.sum())
        while i < end {
            sum += Double(a[i] * b[i])
            i += 1
        }
        total += sum
        start = end
    }
    return total
}

/// Four dot products with one vector, each summed exactly as `dot` sums it: the four running sums
/// are independent, so each waits less on its own last addition.
@inline(__always)
func dot4(
    _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>, _ a3: UnsafePointer<Float>,
    _ b: UnsafePointer<Float>, _ count: Int
) -> SIMD4<Double> {
    var total = SIMD4<Double>(repeating: 0)
    var start = 0
    while start < count {
        let end = min(count, start + dotBlock)
        var l0 = SIMD8<Float>(repeating: 0), l1 = l0, l2 = l0, l3 = l0
        var i = start
        while i + 8 <= end {
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            l0 += UnsafeRawPointer(a0 + i).loadUnaligned(as: SIMD8<Float>.self) * y
            l1 += UnsafeRawPointer(a1 + i).loadUnaligned(as: SIMD8<Float>.self) * y
            l2 += UnsafeRawPointer(a2 + i).loadUnaligned(as: SIMD8<Float>.self) * y
            l3 += UnsafeRawPointer(a3 + i).loadUnaligned(as: SIMD8<Float>.self) * y
            i += 8
        }
        var sum = SIMD4<Double>(Double(l0.sum()), Double(l1.sum()), Double(l2.sum()), Double(l3.sum()))
        while i < end {
            sum += SIMD4<Double>(Double(a0[i] * b[i]), Double(a1[i] * b[i]), Double(a2[i] * b[i]), Double(a3[i] * b[i]))
            i += 1
        }
        total += sum
        start = end
    }
    return total
}

@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: [Float], _ count: Int) -> Double {
    b.withUnsafeBufferPointer { dot(a, $0.baseAddress!, count) }
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major, `size` x `size`), or nil
/// when `A` is not positive definite.
func solveCholesky(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0...i {
            var s = a[i * n + j]
            for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
            if i == j {
                guard s > 0 else { return nil }
                l[i * n + i] = s.squareRoot()
            } else {
                l[i * n + j] = s / l[j * n + j]
            }
        }
    }
    var y = [Double](repeating: 0, count: n)
    for i in 0..<n {
        var s = b[i]
        for k in 0..<i { s -= l[i * n + k] * y[k] }
        y[i] = s / l[i * n + i]
    }
    var x = [Double](repeating: 0, count: n)
    for i in stride(from: n - 1, through: 0, by: -1) {
        var s = y[i]
        for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
        x[i] = s / l[i * n + i]
    }
    return x
}
