import Foundation
import Ingest
import Outputs
import PHMCore
import TestSupport
import Testing

@Suite struct UnusableInputTests {
    func failure(
        _ extra: [String: String], removing: String? = nil, rawFile: (String, [UInt8])? = nil, blockSize: Int = 16 << 20
    ) -> String? {
        let folder = MinimalExtract.folder(extra)
        defer { try? FileManager.default.removeItem(at: folder) }
        if let removing { try? FileManager.default.removeItem(at: folder.appendingPathComponent(removing)) }
        if let (name, bytes) = rawFile { try! Data(bytes).write(to: folder.appendingPathComponent(name)) }
        do {
            _ = try ExtractReader(folder: folder, blockSize: blockSize).read()
            return nil
        } catch let error as UnusableInput {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func missingRequiredFile() {
        let message = failure([:], removing: "patients.csv")
        #expect(message?.hasPrefix("patients.csv: is missing") == true)
    }

    @Test func missingRequiredColumn() {
        let message = failure(["gp_events.csv": "patient_id,event_date,code\nP1,2020-01-01,38341003\n"])
        #expect(
            message
                == "gp_events.csv: has no column 'code_system' in its header (line 1). Add the column (values may be empty where the contract allows); see docs/input-contract.md."
        )
    }

    @Test func areaIndicatorWithAnUnusableName() {
        let message = failure(["areas.csv": "lsoa_code,imd_decile,pm2.5 (ug/m3)\nE01000001,3,9.1\n"])
        #expect(message?.hasPrefix("areas.csv: has a column 'pm2.5 (ug/m3)' that cannot name an area indicator") == true)
        let many = (0...Areas.maximumIndicators).map { "x\($0)" }
        let wide = failure([
            "areas.csv": "lsoa_code,imd_decile," + many.joined(separator: ",") + "\nE01000001,3,"
                + many.map { _ in "1" }.joined(separator: ",") + "\n"
        ])
        #expect(wide?.hasPrefix("areas.csv: has 13 further columns, more than the 12 area indicators a run keeps") == true)
    }

    @Test func aTrailingCommaInTheAreasHeaderIsNoIndicator() throws {
        let folder = MinimalExtract.folder([
            "areas.csv": "lsoa_code,imd_decile,pm25,\nE01000001,3,9.1,\nE01000002,5,7.5,\nE01000003,9,,\n"
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let areas = try ExtractReader(folder: folder).read().areas
        #expect(areas.indicatorNames == ["pm25"] && areas.indicators.count == 1)
        #expect(areas.indicators[0].prefix(2) == [9.1, 7.5] && areas.indicators[0][2].isNaN)
    }

    @Test func notUTF8() {
        var bytes = Array(
            "patient_id,event_date,code_system,code,value,unit\nP1,2020-01-01,SNOMED,38341003,,\nP1,2020-01-01,SNOMED,38341003,,caf"
                .utf8)
        bytes.append(0xE9)  // Latin-1 é
        bytes.append(0x0A)
        let message = failure([:], rawFile: ("gp_events.csv", bytes))
        #expect(message?.contains("gp_events.csv: is not UTF-8 (first invalid byte at line 3)") == true)
    }

    /// Blocks after the first are read while the one before is still being parsed; the line
    /// named is still counted from the top of the file.
    @Test func badBytesFarIntoAFileAreFoundOnTheirLine() {
        let header = "patient_id,event_date,code_system,code,value,unit\n"
        let row = "P1,2020-01-01,SNOMED,38341003,,\n"
        for (bad, expected) in [
            (UInt8(0xE9), "is not UTF-8 (first invalid byte at line 402)"), (0, "is not CSV text (a NUL byte at line 402)"),
        ] {
            var bytes = Array((header + String(repeating: row, count: 400)).utf8)
            bytes +=
                Array("P1,2020-01-01,SNOMED,38341003,,caf".utf8) + [bad, 0x0A] + Array(String(repeating: row, count: 50).utf8)
            for blockSize in [512, 2_048, 16 << 20] {
                let message = failure([:], rawFile: ("gp_events.csv", bytes), blockSize: blockSize)
                #expect(
                    message == "gp_events.csv: \(expected). "
                        + (bad == 0
                            ? "Export the extract as UTF-8 CSV; see docs/input-contract.md."
                            : "Re-export the file as UTF-8 (for example with iconv -f WINDOWS-1252 -t UTF-8)."),
                    "block size \(blockSize)")
            }
        }
    }

    @Test func notText() {
        let message = failure([:], rawFile: ("prescriptions.csv", [0x50, 0x4B, 0x03, 0x04, 0x00, 0x00, 0x0A]))
        #expect(message?.contains("prescriptions.csv: is not CSV text") == true)
    }

    @Test func emptyFile() {
        let message = failure(["care_contacts.csv": ""])
        #expect(message?.contains("care_contacts.csv: is empty") == true)
    }

    @Test func optionalFilesMayBeAbsent() throws {
        let folder = MinimalExtract.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.patients.count == 3)
        #expect(extract.reconciliation.first { $0.file == "gp_events.csv" }?.present == false)
        #expect(extract.sourcesPresent == [.gp])
    }
}

@Suite struct CSVParsingTests {
    @Test func readsQuotesCommasNewlinesCRLFAndBOM() throws {
        let patients =
            "\u{FEFF}" + MinimalExtract.patientsHeader + "\r\n"
            + "P1,9434765919,\"Ada, Countess\",\"Love\"\"lace\",1950-12-10,F,LS1 4AP,E01000001,A,A00001,2000-01-01,,,N\r\n"
            + "P2,,\"Multi\nLine\",Name,1960-06-23,M,,,,A00002,2010-05-01,,,N\r\n"
            + "P3,,Bad,Row,1960-13-23,M,,,,A00002,2010-05-01,,,N\r\n"
        let folder = MinimalExtract.folder(["patients.csv": patients])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.patients.givenName == ["Ada, Countess"])
        #expect(extract.patients.familyName[0] == "Love\"lace")
        // A newline is a control character in a name; the quoted newline makes the next row line 5.
        #expect(extract.quarantine.map(\.rule) == [.textFormat, .dateFormat])
        #expect(extract.quarantine.map(\.line) == [3, 5])
    }

    @Test func matchesColumnsByNameInAnyOrderAndCase() throws {
        let events = "CODE,Patient_ID,unit,Event_Date,value,code_system,extra_local_column\n38341003,P1,,2020-01-01,,SNOMED,x\n"
        let folder = MinimalExtract.folder(["gp_events.csv": events])
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.clinical.count == 1)
        #expect(extract.codes.codes[Int(extract.clinical.code[0])] == "38341003")
        #expect(extract.reconciliation.first { $0.file == "gp_events.csv" }?.extraColumns == ["extra_local_column"])
    }

    @Test func keepsAreaIndicatorColumns() throws {
        let folder = MinimalExtract.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.areas.indicatorNames == ["pm25"])
        #expect(extract.areas.indicators[0][0] == 11.5)
        #expect(extract.areas.indicators[0][1].isNaN)
    }

    /// Many rows, read with tiny blocks on one worker and on several: identical results, and a
    /// duplicate key across a block boundary is still caught.
    @Test func blockSizeAndWorkersDoNotChangeResults() throws {
        var events = "patient_id,event_date,code_system,code,value,unit\n"
        var spells = ValidationRuleTests.spellHeader + "\n"
        for i in 0..<3_000 {
            let patient = ["P1", "P2", "P3"][i % 3]
            let code = ["38341003", "44054006", "195967001", "bad"][i % 4 == 3 && i % 7 == 0 ? 3 : i % 3]
            events += "\(patient),2020-01-\(String(format: "%02d", 1 + i % 28)),SNOMED,\(code),\(i % 5 == 0 ? "12.5" : ""),\n"
            let id = i == 2_500 ? "S10" : "S\(i)"
            spells += "\(id),\(ValidationRuleTests.identity),RQX,2024-01-01,2024-01-03,21,J18.9,I10|E11.9,,\(i)\n"
        }
        let folder = MinimalExtract.folder(["gp_events.csv": events, "inpatient_spells.csv": spells])
        defer { try? FileManager.default.removeItem(at: folder) }
        let reference = try ExtractReader(folder: folder, workers: 1, blockSize: 1 << 24).read()
        let chunked = try ExtractReader(folder: folder, workers: 4, blockSize: 2_048).read()
        #expect(reference.clinical.count == chunked.clinical.count)
        #expect(reference.clinical.day == chunked.clinical.day)
        #expect(
            reference.clinical.code.map { reference.codes.codes[Int($0)] }
                == chunked.clinical.code.map { chunked.codes.codes[Int($0)] })
        #expect(reference.quarantine.map(\.line) == chunked.quarantine.map(\.line))
        #expect(reference.quarantine.map(\.rule) == chunked.quarantine.map(\.rule))
        let duplicates = chunked.quarantine.filter { $0.rule == .duplicateKey }
        #expect(duplicates.map(\.line) == [2_502])
        #expect(chunked.care.count == 2_999)
        #expect(chunked.care.cost[10] == 10)
        #expect(chunked.reconciliation.allSatisfy { $0.balances })
    }
}

@Suite struct ExampleExtractTests {
    /// The small example folder shipped in `examples/extract` follows the contract.
    @Test func exampleFolderReadsCleanly() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/extract")
            .standardizedFileURL
        let extract = try ExtractReader(folder: folder).read()
        #expect(extract.reconciliation.count == 9)
        #expect(extract.reconciliation.allSatisfy { $0.present && $0.balances })
        #expect(extract.quarantine.isEmpty)
        #expect(extract.patients.count > 100)
        #expect(extract.sourcesPresent.count == 6)
    }
}
