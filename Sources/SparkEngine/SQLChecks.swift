import PHMCore

/// The contract's field rules as Spark SQL conditions, each the same test as the in-process
/// reader's (`Field`, `CodeFormat`, `NHSNumber`, `Postcode`), byte for byte where the rule counts
/// bytes. A condition is true when the value FAILS the rule. Regular expressions are bound as
/// parameters (`Patterns`), so no pattern is written into SQL text and `\z` means the end of the
/// value (Java's `$` also matches before a final line terminator).
enum SQLCheck {
    /// Empty (a missing value).
    static func empty(_ x: String) -> String { "(\(x) = '')" }

    /// Not a real calendar date written YYYY-MM-DD (any year, so the range rule can follow).
    static func badDate(_ x: String) -> String {
        let y = "try_cast(substring(\(x), 1, 4) AS INT)"
        let m = "try_cast(substring(\(x), 6, 2) AS INT)"
        let d = "try_cast(substring(\(x), 9, 2) AS INT)"
        let days =
            "CASE \(m) WHEN 2 THEN IF(\(y) % 4 = 0 AND (\(y) % 100 <> 0 OR \(y) % 400 = 0), 29, 28) WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END"
        return "(NOT (\(x) RLIKE :date AND \(m) BETWEEN 1 AND 12 AND \(d) BETWEEN 1 AND \(days)))"
    }

    /// A valid date outside 1890-01-01 to 2100-12-31 (ISO dates compare as text).
    static func outOfRange(_ x: String) -> String { "(\(x) < '1890-01-01' OR \(x) > '2100-12-31')" }

    /// Not a plain decimal: an optional minus, digits with an optional fraction, 1 to 15 digits.
    static func badDecimal(_ x: String) -> String {
        "(NOT (\(x) RLIKE :decimal AND char_length(regexp_replace(\(x), :nondigits, '')) BETWEEN 1 AND 15))"
    }

    /// A decimal below zero (-0 is not).
    static func negative(_ x: String) -> String { "(try_cast(\(x) AS DOUBLE) < 0)" }

    /// Free text: control characters, or over 200 bytes.
    static func badText(_ x: String) -> String { "(octet_length(\(x)) > 200 OR \(x) RLIKE :controls)" }

    /// An organisation code: 3-10 upper-case letters and digits.
    static func badOrgCode(_ x: String) -> String { "(NOT (\(x) RLIKE :orgCode))" }

    /// An identifier: 1-64 bytes, none a space or control character.
    static func badIdentifier(_ x: String) -> String { "(octet_length(\(x)) > 64 OR NOT (\(x) RLIKE :identifier))" }

    /// Not one of `values`, exactly.
    static func notIn(_ x: String, _ values: [String]) -> String {
        "(\(x) NOT IN (\(values.map { "'\($0)'" }.joined(separator: ", "))))"
    }

    /// An NHS number that is not ten digits.
    static func nhsMalformed(_ x: String) -> String { "(\(x) <> '' AND NOT (\(x) RLIKE :tenDigits))" }

    /// Ten digits whose modulus 11 check fails (a check digit of 10 never passes).
    static func nhsBadCheck(_ x: String) -> String {
        let digit = { (i: Int) in "try_cast(substring(\(x), \(i + 1), 1) AS INT)" }
        let sum = (0..<9).map { "\(digit($0)) * \(10 - $0)" }.joined(separator: " + ")
        return
            "(\(x) RLIKE :tenDigits AND (CASE (\(sum)) % 11 WHEN 0 THEN 0 ELSE 11 - (\(sum)) % 11 END) <> \(digit(9)))"
    }

    /// Not shaped like a UK postcode once spaces are removed and ASCII letters made upper case.
    static func badPostcode(_ x: String) -> String {
        "(octet_length(\(x)) > 10 OR NOT (\(upperASCII("replace(\(x), ' ', '')")) RLIKE :postcode))"
    }

    /// ASCII letters upper-cased, nothing else changed (SQL's upper() also maps letters beyond ASCII).
    static func upperASCII(_ x: String) -> String {
        "translate(\(x), 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"
    }

    /// A code that is not valid in its system (`CodeFormat.normalise`, with the reader's limit of 24 bytes).
    static func badCode(_ x: String, _ system: CodeSystem) -> String {
        let shape: String
        switch system {
        case .snomed, .dmd:
            shape = "(\(x) RLIKE :snomed AND \(verhoeffValid(x)))"
        case .icd10:
            shape = "(\(upperASCII(x)) RLIKE :icd10)"
        case .opcs4:
            shape = "(\(upperASCII(x)) RLIKE :opcs4)"
        case .read2:
            shape = "(\(x) RLIKE :read2)"
        case .ctv3:
            shape = "(\(x) RLIKE :ctv3)"
        case .bnf:
            shape = "(\(x) RLIKE :bnf)"
        }
        return "(octet_length(\(x)) > 24 OR NOT \(shape))"
    }

    /// The Verhoeff check over a string of digits, the digits taken from the right, with
    /// `CodeFormat`'s tables.
    static func verhoeffValid(_ x: String) -> String {
        func table(_ rows: [[UInt8]]) -> String {
            "array(" + rows.map { "array(" + $0.map(String.init).joined(separator: ", ") + ")" }.joined(separator: ", ") + ")"
        }
        // c = d[c][p[i % 8][digit i from the right]], from c = 0; valid when c ends at 0.
        let digits = "transform(reverse(split(\(x), '')), ch -> try_cast(ch AS INT))"
        return
            "(aggregate(zip_with(\(digits), sequence(0, char_length(\(x)) - 1), (v, i) -> element_at(element_at(\(table(CodeFormat.verhoeffP)), i % 8 + 1), v + 1)), 0, (c, q) -> element_at(element_at(\(table(CodeFormat.verhoeffD)), c + 1), q + 1)) = 0)"
    }
}

/// The regular expressions the checks bind, by parameter name.
enum Patterns {
    static let quotedOrPlain = #"(?:"[^"]*+(?:""[^"]*+)*+"|[^,"]*+)"#
    static let all: [String: String] = [
        // A record the RFC 4180 way: a quote opens a field only at its start, "" escapes one.
        "record": #"^"# + quotedOrPlain + #"(?:,"# + quotedOrPlain + #")*+\z"#,
        // Each field after a comma put before the record.
        "field": "," + "(" + quotedOrPlain + ")",
        "date": #"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z"#,
        "decimal": #"^-?[0-9]*(?:\.[0-9]*)?\z"#,
        "nondigits": "[^0-9]",
        "controls": #"[\x00-\x1F\x7F]"#,
        "orgCode": #"^[0-9A-Z]{3,10}\z"#,
        "identifier": #"^[^\x00-\x20\x7F]+\z"#,
        "tenDigits": #"^[0-9]{10}\z"#,
        "postcode": #"^[A-Z](?:[0-9]|[0-9][0-9]|[A-Z][0-9]|[0-9][A-Z]|[A-Z][0-9][0-9A-Z])[0-9][A-Z]{2}\z"#,
        "snomed": #"^[1-9][0-9]{5,17}\z"#,
        // A letter, two digits, then up to two letters or digits, with one dot only as the fourth
        // character (a fourth X, which the reader drops, is one of those letters).
        "icd10": #"^[A-Z][0-9]{2}\.?[0-9A-Z]{0,2}\z"#,
        "opcs4": #"^[A-Z][0-9]{2}\.?[0-9]{0,2}\z"#,
        "read2": #"^[0-9A-Za-z.]{5}(?:[0-9]{2})?\z"#,
        "ctv3": #"^[0-9A-Za-z.]{5}\z"#,
        "bnf": #"^[0-9A-Z]{9,15}\z"#,
        "lsoa": #"^[A-Z][0-9]{8}\z"#,
        "admission": #"^(?:1[1-3]|2[1-8A-D]|3[12]|8[1-3])\z"#,
        "digits": #"^[0-9]+\z"#,
        "threeDigits": #"^[0-9]{3}\z"#,
        "carriageReturn": #"\r\z"#,
        "nul": #"\x00"#,
    ]
}
