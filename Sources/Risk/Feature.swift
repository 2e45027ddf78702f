import PHMCore

/// One model input, described well enough to rebuild it and to explain it in plain words.
public struct Feature: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        /// 1 when true, else 0.
        case flag
        /// A whole number of events or days.
        case count
        /// A measurement or score with decimals.
        case value
        /// GBP.
        case money
    }

    /// Stable identifier, saved with models.
    public var id: String
    /// What the feature measures, in words a clinician reads ("emergency admissions, last 12 months").
    public var description: String
    public var kind: Kind
    /// The feature whose words explain this one (age hinges explain as "age"); itself when nil.
    public var explainedBy: String?

    /// Features that adjust a model but are never named as a reason on a worklist: area
    /// deprivation describes where someone lives, not something to review with them, and a tree's
    /// splits on it can credit the least deprived decile with risk, which reads as nonsense.
    public static let notReasons: Set<String> = ["imd_decile"]

    /// Whether a feature is one of the area indicators (`area_NAME`), given only on request.
    public static func isArea(_ id: String) -> Bool { id.hasPrefix(areaPrefix) }
    public static let areaPrefix = "area_"

    /// Whether a feature may be named as a reason on a worklist: neither deprivation nor an area
    /// indicator is (both describe where someone lives).
    public static func isReason(_ id: String) -> Bool { !notReasons.contains(id) && !isArea(id) }

    public init(_ id: String, _ description: String, _ kind: Kind, explainedBy: String? = nil) {
        self.id = id
        self.description = description
        self.kind = kind
        self.explainedBy = explainedBy
    }

    /// The feature and a person's value in plain words, as shown in worklists.
    public func describe(_ value: Float) -> String {
        switch kind {
        case .flag: return description
        case .count: return "\(description): \(Int(value.rounded()))"
        case .value: return "\(description): \(Double(value).formatted(decimals: 2))"
        case .money: return "\(description): £\(Int(value.rounded()))"
        }
    }
}

extension Double {
    func formatted(decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (self * scale).rounded() / scale
        var text = String(r)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}

/// Feature values for a set of people, stored column by column.
///
/// Column `j` holds `values[j * rows ..< (j + 1) * rows]`, so training touches each feature as
/// one contiguous run of floats.
public struct FeatureMatrix: Sendable {
    public var features: [Feature]
    public var rows: Int
    public var values: [Float]

    public init(features: [Feature], rows: Int) {
        self.features = features
        self.rows = rows
        values = [Float](repeating: 0, count: features.count * rows)
    }

    public var columns: Int { features.count }

    @inline(__always)
    public subscript(row: Int, column: Int) -> Float {
        get { values[column * rows + row] }
        set { values[column * rows + row] = newValue }
    }

    public func column(_ id: String) -> Int? { features.firstIndex { $0.id == id } }

    /// The rows at `positions`, in that order: a training or validation subset.
    ///
    /// - Complexity: O(positions x columns).
    public func subset(_ positions: [Int32]) -> FeatureMatrix {
        var out = FeatureMatrix(features: features, rows: positions.count)
        values.withUnsafeBufferPointer { source in
            out.values.withUnsafeMutableBufferPointer { target in
                for j in 0..<columns {
                    let s = source.baseAddress! + j * rows
                    let t = target.baseAddress! + j * positions.count
                    for (i, r) in positions.enumerated() { t[i] = s[Int(r)] }
                }
            }
        }
        return out
    }

    /// Only the named columns, in the given order; fails when one is missing. Returns the matrix
    /// itself, uncopied, when it already holds exactly those columns (scoring with the model a
    /// snapshot was built for).
    public func selecting(_ ids: [String]) throws(RiskError) -> FeatureMatrix {
        if ids.elementsEqual(features.lazy.map(\.id)) { return self }
        let indices = try ids.map { id throws(RiskError) -> Int in
            guard let j = column(id) else { throw .missingFeature(id) }
            return j
        }
        var out = FeatureMatrix(features: indices.map { features[$0] }, rows: rows)
        for (k, j) in indices.enumerated() {
            out.values.replaceSubrange(k * rows..<(k + 1) * rows, with: values[j * rows..<(j + 1) * rows])
        }
        return out
    }
}

/// Why risk work cannot go on, in words a user can act on.
public enum RiskError: Error, CustomStringConvertible, Equatable {
    case missingFeature(String)
    case unreadableModel(path: String, reason: String)
    case noOutcomes(outcome: String, index: String)
    case tooFewPeople(Int)

    public var description: String {
        switch self {
        case .missingFeature(let id):
            "the model uses feature '\(id)', which this run does not build: score with the condition library the model was trained on, or train a new model"
        case .unreadableModel(let path, let reason): "cannot read the model \(path): \(reason)"
        case .noOutcomes(let outcome, let index):
            "no one had the outcome '\(outcome)' in the 12 months from \(index): a model cannot be trained; check that the extract covers that period"
        case .tooFewPeople(let n): "only \(n) people are eligible for training; at least 200 are needed"
        }
    }
}
