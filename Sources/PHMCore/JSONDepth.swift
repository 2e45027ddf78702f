/// How deeply JSON text nests arrays and objects, found in one pass over its bytes without
/// parsing it: a recursive parser can then be refused text that would exhaust its stack.
public enum JSONDepth {
    /// The deepest nesting of `[` and `{` outside strings (0 for a scalar). Total on any bytes:
    /// malformed text gives some depth, and the parser that follows reports what is wrong.
    public static func of<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        return deepest
    }
}
