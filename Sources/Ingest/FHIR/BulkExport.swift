import FHIR
import Foundation

/// The NDJSON files of a FHIR Bulk Data export in an input folder, with the resource type each
/// holds (HL7 FHIR Bulk Data Access IG 2.0: one resource per line, one type per file, several
/// files per type allowed, an optional `manifest.json` listing them).
public struct BulkExport: Sendable {
    public struct File: Sendable {
        public var name: String
        public var url: URL
        public var resourceType: String
    }

    public var files: [File]

    /// The resource types read, in the order they are read: the ones others refer to first.
    public static let readTypes = [
        "Consent", "ChargeItem", "Patient", "Condition", "Observation", "Procedure", "MedicationRequest",
        "MedicationStatement", "Encounter",
    ]

    public func files(of type: String) -> [File] { files.filter { $0.resourceType == type } }

    /// The export in `folder`, or nil when it has neither a manifest nor any `.ndjson` file.
    ///
    /// A file's type is the manifest's `type` for it; else the part of its name before the first
    /// `.`, `-` or `_` (`Patient.ndjson`, `Patient-2.ndjson`); else the `resourceType` of its first line.
    /// - Throws: `UnusableInput` when the manifest is not a Bulk Data manifest or names a missing file.
    public static func find(in folder: URL) throws -> BulkExport? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        var typeOf: [String: String] = [:]
        let manifest = folder.appendingPathComponent("manifest.json")
        let hasManifest = FileManager.default.fileExists(atPath: manifest.path)
        if hasManifest {
            for (name, type) in try manifestEntries(manifest) {
                guard names.contains(name) else {
                    throw UnusableInput(
                        file: "manifest.json", problem: "lists \(name.prefix(80)), which is not in \(folder.path)",
                        remedy: "Download every file the export's manifest lists into the input folder.")
                }
                typeOf[name] = type
            }
        }
        // Every file the manifest lists (a server's file names need not end in .ndjson), and
        // every .ndjson file beside them, plain or gzip-compressed.
        let ndjson = names.filter { $0.hasSuffix(".ndjson") || $0.hasSuffix(".ndjson.gz") || typeOf[$0] != nil }
        // A file beside its own compressed copy (as `gunzip -k` leaves them) would be read twice.
        if let twice = ndjson.first(where: { ndjson.contains($0 + ".gz") }) {
            throw UnusableInput(
                file: twice, problem: "is in the folder beside \(twice).gz, so its resources would be read twice",
                remedy: "Keep one of the two.")
        }
        guard hasManifest || !ndjson.isEmpty else { return nil }
        var files: [File] = []
        for name in ndjson {
            let url = folder.appendingPathComponent(name)
            let type = typeOf[name] ?? typeFromName(name) ?? firstResourceType(url) ?? ""
            files.append(File(name: name, url: url, resourceType: type))
        }
        return BulkExport(files: files)
    }

    static func typeFromName(_ name: String) -> String? {
        let stem = name.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" }).first.map(String.init) ?? ""
        guard let first = stem.unicodeScalars.first, ("A"..."Z").contains(first),
            stem.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) })
        else { return nil }
        return stem
    }

    /// The `resourceType` on the first line, read from at most its first 64 KiB.
    static func firstResourceType(_ url: URL) -> String? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        let start: [UInt8]?
        if GzipReader.isGzip(url) {
            start = (try? GzipReader(handle: handle, name: url.lastPathComponent))
                .flatMap { reader in try? reader.read(upTo: 1 << 16) }
        } else {
            start = (try? handle.read(upToCount: 1 << 16)).map(Array.init)
        }
        guard let start else { return nil }
        let line = Array(start.prefix { $0 != 0x0A })
        var tape = JSONTape()
        return line.withUnsafeBytes { bytes -> String? in
            guard (try? tape.parse(bytes)) != nil else { return nil }
            return tape.string(tape.value("resourceType", in: 0, bytes), bytes)
        }
    }

    /// The manifest's `output` entries: the local file name (the last part of each `url`) and `type`.
    static func manifestEntries(_ url: URL) throws -> [(String, String)] {
        let fail = UnusableInput(
            file: "manifest.json", problem: "is not a Bulk Data manifest (a JSON object with an 'output' list of type and url)",
            remedy: "Keep the manifest.json the export server wrote, or remove it to read every .ndjson file.")
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        guard size < 64 << 20 else { throw fail }
        let data = (try? Data(contentsOf: url)) ?? Data()
        var tape = JSONTape()
        return try Array(data).withUnsafeBytes { bytes in
            guard (try? tape.parse(bytes)) != nil, let output = tape.value("output", in: 0, bytes),
                tape.kind(output) == .array
            else { throw fail }
            var entries: [(String, String)] = []
            for entry in tape.elements(of: output) {
                guard let type = tape.string(tape.value("type", in: entry, bytes), bytes),
                    let address = tape.string(tape.value("url", in: entry, bytes), bytes),
                    let name = address.split(separator: "/").last.map(String.init), !name.isEmpty
                else { throw fail }
                entries.append((name, type))
            }
            return entries
        }
    }
}
