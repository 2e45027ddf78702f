import Dispatch
import FHIR
import Foundation
import Outputs
import PHMCore

/// Record batches a resource may add several rows to, and take them back from when a later row fails.
protocol ResourceBatch: RecordBatch {
    mutating func truncate(to count: Int)
}

extension ResourceBatch {
    /// Appends another batch whose code ids are already the extract's (an empty code map).
    mutating func append(contentsOf other: Self) { append(other, skipping: [], codeMap: []) }
}

/// What the resources other resources refer to say: organisations, opt-outs and charges.
struct ReferenceRecords: RecordBatch {
    var kind: [UInt8] = []
    var key: [String] = []
    var value: [String] = []
    var amount: [Double] = []
    var identity: [[[UInt8]]] = []
    var count: Int { key.count }

    static let organisation: UInt8 = 0, optOut: UInt8 = 1, charge: UInt8 = 2, person: UInt8 = 3

    mutating func add(
        _ kind: UInt8, _ key: String, _ value: String = "", _ amount: Double = 0, identity: [[UInt8]] = []
    ) {
        self.kind.append(kind)
        self.key.append(key)
        self.value.append(value)
        self.amount.append(amount)
        self.identity.append(identity)
    }

    mutating func append(_ o: ReferenceRecords, skipping s: Set<Int>, codeMap: [Int32]) {
        kind.append(o.kind, skipping: s)
        key.append(o.key, skipping: s)
        value.append(o.value, skipping: s)
        amount.append(o.amount, skipping: s)
        identity.append(o.identity, skipping: s)
    }
}

/// Reads the resource files of a FHIR Bulk Data export into the contract's record batches,
/// block by block with the lines of each block parsed in parallel. Every resource becomes the
/// contract rows it stands for and goes through the contract's own decoders, so it meets every
/// rule a CSV row meets; a rejected resource is quarantined with its file, line and JSON path.
struct ExportReader {
    let export: BulkExport
    var workers: Int
    var blockSize: Int
    var progress: ProgressHandler?

    /// Reads Organization, Consent and ChargeItem resources: what the others refer to.
    /// With `practices`, the Patient files are also read for the practices their registrations
    /// name (for a folder without `practices.csv`); without `optOuts`, `patients.csv` holds the
    /// opt-outs, and the export's opt-out Consents are counted as not read.
    func context(
        postcodes: [String: String], practices: Bool = false, optOuts: Bool = true, into extract: inout Extract
    ) throws -> ExportContext {
        var context = ExportContext()
        context.postcodes = postcodes
        let odsSystem = ResourceRows.odsSystem
        let optOutPolicy = Array(Vocabulary.nationalDataOptOut.utf8)
        let handlers: [(String, @Sendable (Resource, inout ReferenceRecords) throws(Refusal) -> Void)] = [
            (
                "Organization",
                { r, batch throws(Refusal) in
                    let ods = r.elements(r.at("identifier")).first { r.equals(r.at("system", from: $0), odsSystem) }
                    guard let id = r.string(r.at("id")), let code = r.string(r.at("value", from: ods)) else {
                        throw .notRead("Organization without an id and an ODS code")
                    }
                    batch.add(ReferenceRecords.organisation, id, code, identity: [Array((r.string(r.at("name")) ?? "").utf8)])
                }
            ),
            (
                "Consent",
                { r, batch throws(Refusal) in
                    let policy = r.elements(r.at("policy")).contains { r.equals(r.at("uri", from: $0), optOutPolicy) }
                    guard policy else {
                        // An opt-out recorded in a shape this reader does not know must not pass unseen.
                        if r.bytes.firstRange(of: optOutPolicy) != nil {
                            throw Refusal(
                                "Consent.policy", .enumValue,
                                "the Consent names the National Data Opt-out other than as policy.uri, so it cannot be read")
                        }
                        throw .notRead("Consent that is not a National Data Opt-out")
                    }
                    guard r.equals(r.at("status"), "active") else { throw .notRead("National Data Opt-out Consent not active") }
                    guard r.equals(r.at("provision", "type"), "deny") else {
                        throw Refusal("Consent.provision.type", .enumValue, "a National Data Opt-out Consent must deny")
                    }
                    let id = try ResourceRows.subject(r, "patient", path: "Consent.patient.reference")
                    guard optOuts else {
                        throw .notRead(
                            "National Data Opt-out beside patients.csv (its national_opt_out column holds the opt-outs)")
                    }
                    batch.add(ReferenceRecords.optOut, String(decoding: id, as: UTF8.self))
                }
            ),
            (
                "ChargeItem",
                { r, batch throws(Refusal) in
                    for status: StaticString in ["entered-in-error", "aborted", "not-billable"]
                    where r.equals(r.at("status"), status) {
                        throw .notRead("status \(status)")
                    }
                    let price = r.at("priceOverride", "value")
                    guard r.tape.kind(price) == .number, let text = r.tape.raw(price, r.bytes),
                        let amount = Double(String(decoding: text, as: UTF8.self)), amount >= 0, amount < 1e9
                    else {
                        throw Refusal(
                            "ChargeItem.priceOverride.value", .numberFormat, "priceOverride.value must be an amount of 0 or more")
                    }
                    // The price belongs to one thing: the encounter, else the first prescription named.
                    var target: String?
                    if let id = r.referencedId(r.at("context", "reference"), type: "Encounter") {
                        target = "Encounter/" + String(decoding: id, as: UTF8.self)
                    }
                    for info in r.elements(r.at("supportingInformation")) where target == nil {
                        for type: StaticString in ["MedicationRequest", "MedicationStatement"] where target == nil {
                            if let id = r.referencedId(r.at("reference", from: info), type: type) {
                                target = "\(type)/" + String(decoding: id, as: UTF8.self)
                            }
                        }
                    }
                    guard let target else { throw .notRead("ChargeItem not for a prescription or an encounter") }
                    batch.add(ReferenceRecords.charge, target, "", amount)
                }
            ),
        ]
        try apply(handlers, to: &context, into: &extract)
        // The people encounters refer to, as each Patient records them, and the practices of the
        // registrations: a pass of its own over the Patient files (which count in reconciliation
        // once, when they are read as registrations), after the organisations are known.
        let encounters = !export.files(of: "Encounter").isEmpty
        guard encounters || practices else { return context }
        let known = context
        let people: (String, @Sendable (Resource, inout ReferenceRecords) throws(Refusal) -> Void) = (
            "Patient",
            { r, batch throws(Refusal) in
                guard let id = r.string(r.at("id")) else { throw Refusal("Patient.id", .missingValue, "Patient.id is required") }
                let practice = ResourceRows.registration(r).flatMap { ResourceRows.practiceCode($0, r, known) } ?? []
                batch.add(
                    ReferenceRecords.person, id, String(decoding: practice, as: UTF8.self),
                    identity: encounters ? ResourceRows.identity(r).fields + [ResourceRows.ethnicCategory(r)] : [])
            }
        )
        try apply([people], to: &context, into: &extract)
        return context
    }

    /// Reads the files of each type with its handler, and adds what they say to `context`.
    private func apply(
        _ passes: [(String, @Sendable (Resource, inout ReferenceRecords) throws(Refusal) -> Void)],
        to context: inout ExportContext, into extract: inout Extract
    ) throws {
        for (type, handle) in passes {
            for file in export.files(of: type) {
                var seen = Set<RowKey>()
                let records: ReferenceRecords = try read(file, key: nil, seen: &seen, into: &extract, record: type != "Patient") {
                    r, _, _, _, piece in
                    do throws(Refusal) {
                        try handle(r, &piece.batch)
                        piece.accepted += 1
                    } catch {
                        return error
                    }
                    return nil
                }
                for i in 0..<records.count {
                    switch records.kind[i] {
                    case ReferenceRecords.organisation:
                        context.organisations[records.key[i]] = records.value[i]
                        let name = String(decoding: records.identity[i].first ?? [], as: UTF8.self)
                        if !name.isEmpty { context.organisationNames[records.value[i]] = name }
                    case ReferenceRecords.optOut: context.optedOut.insert(records.key[i])
                    case ReferenceRecords.person:
                        // The first of a repeated id, as the registrations keep the first.
                        if !records.identity[i].isEmpty, context.identities[records.key[i]] == nil {
                            context.identities[records.key[i]] = records.identity[i]
                        }
                        if !records.value[i].isEmpty, !context.practiceSeen.contains(records.value[i]) {
                            context.practiceSeen.insert(records.value[i])
                            context.practices.append(records.value[i])
                        }
                    default: context.costs[records.key[i], default: 0] += records.amount[i]
                    }
                }
            }
        }
    }

    /// Reads every file of `type`: each resource projected to contract rows, then decoded as the
    /// contract file `contract` would be.
    func read<B: ResourceBatch>(
        _ type: String, as contract: FileSpec, keyed: Bool = false, context: ExportContext, into extract: inout Extract,
        project: @escaping @Sendable (Resource, ExportContext, inout RowBuilder) throws(Refusal) -> Void,
        decode: @escaping RowDecoder<B>
    ) throws -> B {
        try read(
            type, as: [(contract, decode)], keyed: keyed, context: context, into: &extract,
            project: project)
    }

    /// Reads every file of `type`, each resource projected to rows of one of several contract
    /// files (an Encounter is an admission, an attendance or an appointment), each row decoded
    /// as its file would be.
    func read<B: ResourceBatch>(
        _ type: String, as contracts: [(FileSpec, RowDecoder<B>)], keyed: Bool = false,
        context: ExportContext, into extract: inout Extract,
        project: @escaping @Sendable (Resource, ExportContext, inout RowBuilder) throws(Refusal) -> Void
    ) throws -> B {
        var all = B()
        let maps = contracts.map {
            ColumnMap(positions: Array($0.0.columns.indices), extras: [], fieldCount: $0.0.columns.count)
        }
        // Keys are unique across all the files of a type, as within one.
        var seen = Set<RowKey>()
        for file in export.files(of: type) {
            let batch: B = try read(file, as: contracts.map(\.0.name), key: keyed ? 0 : nil, seen: &seen, into: &extract) {
                r, line, _, rows, piece in
                do throws(Refusal) {
                    try project(r, context, &rows)
                } catch {
                    return error
                }
                let before = piece.batch.count
                for k in 0..<rows.rowCount {
                    let (contract, decode) = contracts[rows.variants[k]]
                    let map = maps[rows.variants[k]]
                    let failure = rows.withRow(k, line: line) { row -> RowError? in
                        do throws(RowError) {
                            try decode(row, map, &piece)
                            return nil
                        } catch {
                            return error
                        }
                    }
                    if var failure {
                        piece.batch.truncate(to: before)
                        // Name the resource's field rather than the contract column it stood for.
                        if let column = contract.columns.firstIndex(where: { $0.name == failure.column }) {
                            let path = rows.paths[k][column]
                            if failure.message.hasPrefix(failure.column) {
                                failure.message = path + failure.message.dropFirst(failure.column.count)
                            }
                            failure.column = path
                        }
                        failure.message = failure.message.replacingOccurrences(
                            of: "is not in patients.csv", with: "is not a registered Patient of the export")
                        return .broken(failure)
                    }
                }
                piece.accepted += 1
                piece.variants[rows.variants.first ?? 0, default: 0] += rows.rowCount
                for warning in rows.warnings { piece.warn(warning) }
                if keyed {
                    piece.keys.append(rows.withRow(0, line: line) { RowKey($0[0]) })
                    piece.keyVariants.append(rows.variants.first ?? 0)
                }
                return nil
            }
            all.append(contentsOf: batch)
        }
        return all
    }

    /// Reads one NDJSON file: `handle` turns each well-formed resource of the file's type into
    /// rows of the piece's batch, or says why not.
    private func read<B: RecordBatch>(
        _ file: BulkExport.File, as contractFiles: [String] = [], key: Int?, seen: inout Set<RowKey>,
        into extract: inout Extract, record: Bool = true,
        handle: @escaping @Sendable (Resource, _ line: Int, _ raw: Range<Int>, inout RowBuilder, inout Piece<B>) -> Refusal?
    ) throws -> B {
        let started = DispatchTime.now()
        let total = (try? FileManager.default.attributesOfItem(atPath: file.url.path)[.size] as? Int) ?? 0
        var reader = try LineBlocks(url: file.url, displayName: file.name, blockSize: blockSize)
        let spec = FileSpec(
            name: file.name, requiredFile: false, columns: [ColumnSpec("\(file.resourceType).id", identifying: true)],
            keyColumn: key)
        let merger = FileIngest<B>(spec: spec, folder: file.url.deletingLastPathComponent())
        var output = FileIngest<B>.Output(reconciliation: FileReconciliation(file: file.name, present: true))
        var variants: [Int: Int] = [:]
        var nextLine = 1
        let type = Array(file.resourceType.utf8)
        while let block = try reader.next() {
            let pieces = block.withUnsafeBytes { bytes -> [Piece<B>] in
                let ranges = LineBlocks.pieces(of: bytes, count: workers * 2)
                let shared = Unchecked(bytes)
                return Parallel.map(ranges.count) { k in
                    Self.parse(shared.value, ranges[k], file: file.name, type: type, limit: blockSize, handle: handle)
                }
            }
            var line = nextLine
            block.withUnsafeBytes { bytes in
                for var piece in pieces {
                    merger.merge(&piece, firstLine: line, block: bytes, seen: &seen, codes: &extract.codes, into: &output)
                    variants.merge(piece.variants, uniquingKeysWith: +)
                    line += piece.lines
                }
            }
            nextLine = line
            progress?(file.name, reader.bytesRead, total)
        }
        if key != nil, contractFiles.count == 1 {
            // Repeated keys are refused only when pieces merge: the file's accepted count is exact.
            output.reconciliation.readAs = [contractFiles[0]: output.reconciliation.accepted]
        } else if !contractFiles.isEmpty {
            output.reconciliation.readAs = Dictionary(
                uniqueKeysWithValues: contractFiles.indices.map { (contractFiles[$0], variants[$0] ?? 0) })
        }
        output.reconciliation.bytes = reader.bytesRead
        output.reconciliation.seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        if record {
            extract.reconciliation.append(output.reconciliation)
            extract.quarantine.append(contentsOf: output.quarantine)
        }
        return output.batch
    }

    /// The lines of one piece of a block; line numbers are counted from the piece's first line.
    private static func parse<B: RecordBatch>(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, file: String, type: [UInt8], limit: Int,
        handle: (Resource, Int, Range<Int>, inout RowBuilder, inout Piece<B>) -> Refusal?
    ) -> Piece<B> {
        var piece = Piece<B>()
        var tape = JSONTape()
        // One builder for the piece, emptied for each resource: no allocation per line.
        var rows = RowBuilder()
        var start = range.lowerBound
        var line = 0
        while start < range.upperBound {
            let newline = memchr(bytes.baseAddress! + start, 0x0A, range.upperBound - start).map {
                bytes.baseAddress!.distance(to: UnsafeRawPointer($0)) - start
            }
            let next = newline.map { start + $0 + 1 } ?? range.upperBound
            var end = newline.map { start + $0 } ?? range.upperBound
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            defer {
                start = next
                line += 1
            }
            let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            // Blank lines hold no resource (an export's last line ends with a newline).
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            piece.rowsIn += 1
            let refusal: Refusal?
            if (text.count == 1 && text[0] == LineBlocks.oversized) || text.count > limit {
                refusal = Refusal(
                    "$", .lineLength,
                    "the line is longer than the \(limit >> 20 > 0 ? "\(limit >> 20) MiB" : "\(limit) bytes") a resource may take, so it is not read"
                )
            } else if let offset = UTF8Check.firstInvalid(text) {
                refusal = Refusal("$", .jsonSyntax, "the line is not UTF-8 (first invalid byte at character \(offset + 1))")
            } else {
                do throws(JSONTape.Failure) {
                    try tape.parse(text)
                    let r = Resource(tape: tape, bytes: text)
                    let resourceType = r.at("resourceType")
                    if tape.tokens[0].kind != .object {
                        refusal = Refusal("$", .jsonSyntax, "the line is not a JSON object")
                    } else if let id = r.at("id"), tape.tokens[id].kind != .string {
                        refusal = Refusal("id", .textFormat, "the resource's id is not a string")
                    } else if !r.equals(resourceType, type) {
                        let found = r.string(resourceType).map { "'\($0.prefix(40))'" } ?? "no resourceType"
                        refusal = Refusal(
                            "resourceType", .resourceType,
                            "the line has \(found) in a file of \(String(decoding: type, as: UTF8.self)) resources")
                    } else {
                        rows.reset()
                        refusal = handle(r, line, start..<end, &rows, &piece)
                    }
                } catch {
                    refusal = Refusal("$", .jsonSyntax, "\(error.reason) (at character \(error.offset + 1))")
                }
            }
            switch refusal {
            case nil: break
            case .notRead(let reason): piece.notRead[Self.bounded(reason, piece.notRead), default: 0] += 1
            case .broken(let error):
                let raw =
                    error.rule == .lineLength ? "" : Field.text(UnsafeRawBufferPointer(rebasing: text.prefix(1 << 16)))
                piece.rejected.append(
                    QuarantinedRow(
                        file: file, line: line, column: error.column, rule: error.rule, message: error.message,
                        rawLine: raw, redactedLine: "*** (the resource is withheld here; the identity vault keeps it)"))
            }
            if case .broken = refusal {
            } else if piece.keys.count > piece.keyLines.count {
                piece.keyLines.append(line)
                piece.keyRaw.append(start..<end)
            }
        }
        piece.lines = line
        return piece
    }

    /// At most 50 reasons are told apart (a reason may quote a code system from the file); the
    /// rest are counted together.
    static func bounded(_ reason: String, _ reasons: [String: Int]) -> String {
        reasons.count < 50 || reasons[reason] != nil ? reason : "other reasons (more than 50 kinds)"
    }

    /// Files of resource types the platform does not read: their lines are counted, not parsed.
    func unreadFiles(into extract: inout Extract) throws {
        for file in export.files where !BulkExport.readTypes.contains(file.resourceType) && file.resourceType != "Organization" {
            var reader = try LineBlocks(url: file.url, displayName: file.name, blockSize: blockSize)
            // Lines with something on them, as read files count them.
            var lines = 0
            var blank = true
            while let block = try reader.next() {
                for b in block {
                    if b == 0x0A {
                        if !blank { lines += 1 }
                        blank = true
                    } else if b != 0x20, b != 0x09, b != 0x0D {
                        blank = false
                    }
                }
            }
            if !blank { lines += 1 }
            var reconciliation = FileReconciliation(file: file.name, present: true)
            reconciliation.bytes = reader.bytesRead
            reconciliation.rowsIn = lines
            let type = file.resourceType.isEmpty ? "unknown" : String(file.resourceType.prefix(60))
            reconciliation.notRead = ["resource type \(type) is not read": lines]
            extract.reconciliation.append(reconciliation)
        }
    }
}

extension ClinicalRecords: ResourceBatch {
    mutating func truncate(to n: Int) {
        registration.removeSubrange(n...)
        day.removeSubrange(n...)
        code.removeSubrange(n...)
        value.removeSubrange(n...)
    }
}

extension PrescriptionRecords: ResourceBatch {
    mutating func truncate(to n: Int) {
        registration.removeSubrange(n...)
        day.removeSubrange(n...)
        code.removeSubrange(n...)
        quantity.removeSubrange(n...)
        cost.removeSubrange(n...)
    }
}

extension PatientRecords: ResourceBatch {
    mutating func truncate(to n: Int) {
        // One row per resource: a failed resource has added nothing.
        precondition(n == count)
    }
}

extension CareRecords: ResourceBatch {
    mutating func truncate(to n: Int) {
        // One row per resource: a failed resource has added nothing.
        precondition(n == count)
    }
}
