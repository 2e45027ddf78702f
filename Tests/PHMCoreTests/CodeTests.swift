import PHMCore
import Testing

@Suite struct NHSNumberTests {
    // 943 476 5919 is the NHS Data Dictionary's worked example of a valid number.
    @Test(arguments: ["9434765919", "4010232137", "9990000018"])
    func acceptsValidNumbers(_ number: String) {
        guard case .valid(let value) = NHSNumber.check(number) else {
            Issue.record("\(number) should be valid")
            return
        }
        #expect(NHSNumber.text(value) == number)
    }

    @Test func rejectsWrongCheckDigits() {
        #expect(NHSNumber.check("9434765918") == .badCheckDigit)
        // A remainder of 1 gives check digit 10: no tenth digit makes those nine digits valid.
        let prefix = (UInt64(100_000_000)...).first { NHSNumber.checkDigit(forFirstNine: $0) == nil }!
        for last in 0...9 {
            #expect(NHSNumber.check(NHSNumber.text(prefix * 10 + UInt64(last))) == .badCheckDigit)
        }
    }

    @Test(arguments: ["943476591", "94347659190", "943 476 5919", "943476591X", ""])
    func rejectsMalformedNumbers(_ number: String) {
        #expect(NHSNumber.check(number) == .malformed)
    }

    @Test func detectsEverySingleDigitErrorAndTransposition() {
        let valid = Array("9434765919")
        for i in 0..<10 {
            for d in 0...9 where Character(String(d)) != valid[i] {
                var copy = valid
                copy[i] = Character(String(d))
                #expect(NHSNumber.check(String(copy)) != .valid(9_434_765_919))
                if case .valid = NHSNumber.check(String(copy)) { Issue.record("undetected substitution at \(i)") }
            }
        }
        for i in 0..<9 where valid[i] != valid[i + 1] {
            var copy = valid
            copy.swapAt(i, i + 1)
            if case .valid = NHSNumber.check(String(copy)) { Issue.record("undetected transposition at \(i)") }
        }
    }

    @Test func checkDigitAgreesWithValidation() {
        for prefix in stride(from: UInt64(100_000_000), to: 100_002_000, by: 7) {
            if let digit = NHSNumber.checkDigit(forFirstNine: prefix) {
                #expect(NHSNumber.check(NHSNumber.text(prefix * 10 + UInt64(digit))) == .valid(prefix * 10 + UInt64(digit)))
            }
        }
    }
}

@Suite struct CodeFormatTests {
    @Test(arguments: ["38341003", "44054006", "195967001", "999791000000106", "1011481000000105", "162864005", "271649006"])
    func acceptsRealSNOMEDIdentifiers(_ code: String) {
        #expect(CodeFormat.normalise(code, system: .snomed) == code)
    }

    @Test func rejectsSNOMEDWithWrongCheckDigitOrShape() {
        #expect(CodeFormat.normalise("38341004", system: .snomed) == nil)
        #expect(CodeFormat.normalise("03834100", system: .snomed) == nil)
        #expect(CodeFormat.normalise("12345", system: .snomed) == nil)
        #expect(CodeFormat.normalise("3834100A", system: .snomed) == nil)
    }

    @Test func verhoeffDigitCompletesIdentifiers() {
        // Worked examples of the Verhoeff scheme: 236 -> 2363, 12345 -> 123451; and a real SNOMED CT id.
        #expect(CodeFormat.verhoeffDigit(for: "236") == 3)
        #expect(CodeFormat.verhoeffDigit(for: "12345") == 1)
        #expect(CodeFormat.verhoeffDigit(for: "3834100") == 3)
    }

    @Test func normalisesICD10WithOrWithoutDot() {
        #expect(CodeFormat.normalise("E11.9", system: .icd10) == "E119")
        #expect(CodeFormat.normalise("e119", system: .icd10) == "E119")
        #expect(CodeFormat.normalise("I10X", system: .icd10) == "I10")
        #expect(CodeFormat.normalise("I10", system: .icd10) == "I10")
        #expect(CodeFormat.normalise("M25.51", system: .icd10) == "M2551")
        #expect(CodeFormat.normalise("E1", system: .icd10) == nil)
        #expect(CodeFormat.normalise("11.9", system: .icd10) == nil)
        #expect(CodeFormat.normalise("E11.", system: .icd10) == "E11")
        #expect(CodeFormat.normalise("E.119", system: .icd10) == nil)
    }

    @Test func checksOtherSystems() {
        #expect(CodeFormat.normalise("W40.1", system: .opcs4) == "W401")
        #expect(CodeFormat.normalise("W4A1", system: .opcs4) == nil)
        #expect(CodeFormat.normalise("G30..", system: .read2) == "G30..")
        #expect(CodeFormat.normalise("G30..00", system: .read2) == "G30..00")
        #expect(CodeFormat.normalise("XE0Uc", system: .ctv3) == "XE0Uc")
        #expect(CodeFormat.normalise("XE0Uc00", system: .ctv3) == nil)
        #expect(CodeFormat.normalise("0601022B0AAABAB", system: .bnf) == "0601022B0AAABAB")
        #expect(CodeFormat.normalise("0601", system: .bnf) == nil)
    }

    @Test func admissionMethodsMapToTheirClass() {
        func kind(_ s: String) -> ActivityKind? {
            var s = s
            return s.withUTF8 { ActivityKind.admission(method: UnsafeRawBufferPointer($0)) }
        }
        #expect(["11", "12", "13"].map(kind) == [.electiveAdmission, .electiveAdmission, .electiveAdmission])
        #expect(
            ["21", "28", "2A", "2D"].map(kind) == [
                .emergencyAdmission, .emergencyAdmission, .emergencyAdmission, .emergencyAdmission,
            ])
        #expect(
            ["31", "32", "81", "83"].map(kind) == [.maternityAdmission, .maternityAdmission, .otherAdmission, .otherAdmission])
        #expect(["14", "29", "2E", "99", "1", "111"].map(kind) == [nil, nil, nil, nil, nil, nil])
    }
}
