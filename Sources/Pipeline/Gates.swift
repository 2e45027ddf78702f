import Analysis
import Foundation
import Gates
import Governance
import Outputs
import Storage

/// Failing gates an IG lead lets a run pass: who they are (checked against the store's users)
/// and the gates' names.
public struct GateAcceptance: Sendable {
    public var user: String
    public var password: String
    public var gates: [String]

    public init(user: String, password: String, gates: [String]) {
        self.user = user
        self.password = password
        self.gates = gates
    }

    /// What the audit log records of an acceptance.
    struct Detail: Encodable {
        var run: Int64
        var gate: String
        var subject: String
        var figure: String
        var value: Double?
        var baseline: Double?
    }

    /// The user's name once they are found to be an active IG lead with this password and every
    /// gate named is in the gates file; the attempt is audited either way.
    func authorise(gates file: GateFile?, governance: GovernanceStore, runId: Int64) throws -> String {
        let known = Set(file?.gates.map(\.name) ?? [])
        if let unknown = gates.first(where: { !known.contains($0) }) {
            try governance.audit(
                user: user, role: "", purpose: Purpose.administration.rawValue, action: "accept_gate", outcome: "denied",
                detail: "{\"reason\":\"no such gate\",\"run\":\(runId)}")
            throw GateAcceptanceRefused(
                message:
                    "--accept-gate \(unknown.prefix(64)) names no gate of the gates file (\(known.sorted().joined(separator: ", ")))"
            )
        }
        let user = try governance.user(self.user)
        // Checked whatever the name, so a wrong name costs what a wrong password does.
        let verified = PasswordHasher.verify(password, against: user?.passwordHash ?? PasswordHasher.decoy)
        guard let user, verified, user.active, user.role == .igLead else {
            try governance.audit(
                user: self.user, role: user?.role.rawValue ?? "", purpose: Purpose.administration.rawValue,
                action: "accept_gate", outcome: "denied",
                detail: "{\"reason\":\"unknown user, wrong password, inactive account or not an IG lead\",\"run\":\(runId)}")
            throw GateAcceptanceRefused(
                message: "accepting a gate needs an active IG lead's user name and password: refused for \(self.user.prefix(64))")
        }
        return user.name
    }
}

public struct GateAcceptanceRefused: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

extension QualityHistory {
    /// Each figure of the current run over the earlier runs and this one, with what a control
    /// chart finds.
    init(earlier: [(Run, QualityReport)], current: (Run, QualityReport), gates: [GateOutcome]) {
        let all = earlier + [current]
        var series: [Series] = []
        for entry in current.1.entries {
            for figure in entry.figures.keys.sorted() {
                let values = all.map { $0.1.value(entry.subject, figure) }
                let present = values.compactMap { $0 }
                let chart = ControlChart(present)
                var flags: [String?] = []
                var k = 0
                for value in values {
                    guard value != nil else {
                        flags.append(nil)
                        continue
                    }
                    let point = chart.points[k]
                    flags.append(point.specialCause ? point.side.rawValue : nil)
                    k += 1
                }
                series.append(
                    Series(
                        subject: entry.subject, figure: figure, values: values, mean: chart.mean,
                        lowerLimit: chart.lowerLimit, upperLimit: chart.upperLimit, specialCause: flags,
                        trialLimits: chart.trialLimits))
            }
        }
        self.init(runs: all.map(\.0), current: current.1, series: series, gates: gates)
    }
}
