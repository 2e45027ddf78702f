import Foundation

/// Writes JSON (API responses, audit details) as bytes: objects with their keys sorted, numbers as the shortest
/// text that reads back the same. Foundation's `JSONSerialization` on Linux bridges every value
/// to an Objective-C object and sorts keys with locale-aware comparison.
public enum JSONWriter {
    public static func bytes(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, to: &out)
        return out
    }

    public static func write(_ value: Any, to out: inout [UInt8]) {
        // Null by its type alone: a failed cast to each collection type below costs more.
        if ObjectIdentifier(type(of: value)) == ObjectIdentifier(NSNull.self) { return out.append(contentsOf: "null".utf8) }
        switch value {
        case let s as String: string(s, to: &out)
        case let b as Bool: out.append(contentsOf: (b ? "true" : "false").utf8)
        case let n as Int: out.append(contentsOf: String(n).utf8)
        case let n as Int64: out.append(contentsOf: String(n).utf8)
        case let x as Double: number(x, to: &out)
        case let x as Float: number(Double(x), to: &out)
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            // Pairs sorted together: no second lookup of each key.
            for (i, pair) in object.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                string(pair.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(pair.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        // Before `[Any]`, which would box every element of a `[String]` into a new array.
        case let strings as [String]: list(strings, to: &out) { string($0, to: &$1) }
        case let array as [Any]: list(array, to: &out) { write($0, to: &$1) }
        // Anything without a JSON form. (`is NSNull` rather than comparing types, above, would
        // bridge every Swift dictionary to an NSDictionary on Linux.)
        default: out.append(contentsOf: "null".utf8)
        }
    }

    static func list<Items: Collection>(
        _ items: Items, to out: inout [UInt8], _ element: (Items.Element, inout [UInt8]) -> Void
    ) {
        out.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            element(item, &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func number(_ x: Double, to out: inout [UInt8]) {
        guard x.isFinite else { return out.append(contentsOf: "null".utf8) }
        if x == x.rounded(), abs(x) < 1e15 { return out.append(contentsOf: String(Int64(x)).utf8) }
        out.append(contentsOf: "\(x)".utf8)
    }

    static func string(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole, from the string's own bytes.
        var s = s
        let clean = s.withUTF8 { bytes in
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x3C || byte == 0x3E || byte == 0x26 {
                return false
            }
            out.append(contentsOf: bytes)
            return true
        }
        if clean { return out.append(UInt8(ascii: "\"")) }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            // Other control characters, and < > & so JSON cannot close a script or markup.
            case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                out.append(contentsOf: String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
