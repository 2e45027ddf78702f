import Foundation

/// Charts drawn on the server as SVG: no script and no external library, so pages work offline
/// and under a strict content security policy. Each chart has a title and description for
/// screen readers, and the table beside it holds the same numbers.
///
/// Colours are the Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2008), told apart
/// with the common forms of colour blindness; series differ by dash or marker as well.
enum Chart: Sendable {
    case bars(Bars)
    case pyramid(Pyramid)
    case heatMap(HeatMap)
    case plot(Plot)
    case flow(Flow)

    static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]

    /// Horizontal bars, one per label, with optional 95% intervals and a reference line.
    struct Bars: Sendable {
        var labels: [String]
        var values: [Double?]
        var intervals: [(Double, Double)?] = []
        var format: Format
        var reference: (value: Double, label: String)? = nil
        /// Bars drawn in the second colour (for example, the unit itself among its peers).
        var highlighted: Set<Int> = []
    }

    /// Two-sided bars: a population pyramid.
    struct Pyramid: Sendable {
        var labels: [String]
        var left: [Double?], right: [Double?]
        var leftName: String, rightName: String
    }

    /// A grid of cells shaded by value.
    struct HeatMap: Sendable {
        var rows: [String], columns: [String]
        var rowTitle: String, columnTitle: String
        var values: [[Double?]]
        var format: Format
    }

    /// People moving between states from one time to the next: each state a bar on the left
    /// (before) and on the right (after), with a band between them as wide as the people who
    /// moved that way. Suppressed counts (nil) are not drawn.
    struct Flow: Sendable {
        var states: [String]
        var leftTitle: String, rightTitle: String
        /// `counts[from][to]`.
        var counts: [[Double?]]
        var format: Format
    }

    /// Lines and points on two numeric axes.
    struct Plot: Sendable {
        struct Axis: Sendable {
            var title: String
            var range: ClosedRange<Double>? = nil
            var format: Format
            /// Names for the whole numbers 0, 1, 2... of an axis of categories (months).
            var categories: [String] = []
        }
        struct Series: Sendable {
            /// A band is the area between `points` (its upper edge) and `lower`, an interval's fan.
            enum Style: Sendable { case line, dashed, dotted, points, band }
            var name: String
            var points: [(x: Double, y: Double)]
            var style: Style
            var colour: Int
            /// For points: a label each, shown as the marker's title.
            var labels: [String] = []
            /// For a band: the lower edge at each point's x.
            var lower: [Double] = []
        }
        var x: Axis, y: Axis
        var series: [Series]
    }

    func svg(title: String, description: String) -> String {
        let body: (width: Double, height: Double, content: String) =
            switch self {
            case .bars(let bars): Chart.draw(bars)
            case .pyramid(let pyramid): Chart.draw(pyramid)
            case .heatMap(let map): Chart.draw(map)
            case .plot(let plot): Chart.draw(plot)
            case .flow(let flow): Chart.draw(flow)
            }
        return """
            <svg class="chart" viewBox="0 0 \(Int(body.width)) \(Int(body.height))" width="\(Int(body.width))" height="\(Int(body.height))" font-family="system-ui, sans-serif" role="img" aria-labelledby="\(Chart.id(title))-t \(Chart.id(title))-d" xmlns="http://www.w3.org/2000/svg">\
            <title id="\(Chart.id(title))-t">\(Pages.escape(title))</title><desc id="\(Chart.id(title))-d">\(Pages.escape(description))</desc>\
            \(body.content)</svg>
            """
    }

    static func id(_ title: String) -> String {
        "c" + String(title.unicodeScalars.reduce(UInt32(2_166_136_261)) { ($0 ^ $1.value) &* 16_777_619 }, radix: 36)
    }

    static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", size: Int = 12, weight: String? = nil)
        -> String
    {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\"\(weight.map { " font-weight=\"\($0)\"" } ?? "")>\(Pages.escape(s))</text>"
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// A generous estimate of a text's width: 0.6 of the font size per character, wider than
    /// the average letter of the sans-serif fonts pages use, so a box sized by it holds the text.
    static func width(_ s: String, size: Int = 12) -> Double { Double(s.count) * Double(size) * 0.6 }

    /// A label cut to fit `room` pixels, ending with an ellipsis when cut (the full text stays in
    /// the mark's tooltip and the table).
    static func fit(_ s: String, _ room: Double, size: Int = 12) -> String {
        let most = Int(room / (Double(size) * 0.6))
        return s.count <= most ? s : String(s.prefix(max(1, most - 1))) + "\u{2026}"
    }

    /// Round numbers for an axis from `low` to `high`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var ticks: [Double] = []
        var t = ceil(low / step) * step
        while t <= high + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    /// A tick's label with as many decimals as the step between ticks needs: 0.975 beside 1.000
    /// on a step of 0.025, never two ticks rounded to look alike.
    static func tick(_ t: Double, _ ticks: [Double], _ format: Format) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let decimals =
            (0...6).first { d in
                let scaled = step * pow(10, Double(d))
                return abs(scaled - scaled.rounded()) < 1e-6 * max(1, scaled)
            } ?? 6
        let number = Format.grouped(t, decimals: decimals)
        switch format {
        case .money: return (t < 0 ? "-£" : "£") + Format.grouped(abs(t), decimals: decimals)
        case .percent: return number + "%"
        default: return number
        }
    }

    // MARK: bars

    static func draw(_ bars: Bars) -> (width: Double, height: Double, content: String) {
        // The label column is as wide as the longest label needs, within limits.
        let labelWidth = min(320, max(120, (bars.labels.map { Chart.width($0) }.max() ?? 0) + 12))
        let plotWidth = 360.0, width = labelWidth + plotWidth + 80, row = 22.0, top = 10.0
        let height = top + row * Double(bars.labels.count) + 30
        let highs = bars.values.compactMap { $0 } + bars.intervals.compactMap { $0?.1 } + [bars.reference?.value ?? 0]
        let lows = bars.values.compactMap { $0 } + bars.intervals.compactMap { $0?.0 } + [0]
        let low = min(0, lows.min() ?? 0), high = max(highs.max() ?? 1, low + 1e-9)
        let x = { (v: Double) in labelWidth + (v - low) / (high - low) * plotWidth }
        var out = ""
        let marks = ticks(low, high)
        for t in marks {
            out += "<line x1=\"\(f(x(t)))\" x2=\"\(f(x(t)))\" y1=\"\(f(top))\" y2=\"\(f(height - 25))\" stroke=\"#ddd\"/>"
            out += text(x(t), height - 10, tick(t, marks, bars.format), anchor: "middle", size: 11)
        }
        for (i, label) in bars.labels.enumerated() {
            let y = top + row * Double(i)
            out += text(labelWidth - 6, y + 15, fit(label, labelWidth - 8), anchor: "end")
            guard let value = bars.values[i] else {
                out += text(labelWidth + 4, y + 15, "suppressed", size: 11)
                continue
            }
            let colour = palette[bars.highlighted.contains(i) ? 1 : 0]
            let x0 = x(min(0, value)), x1 = x(max(0, value))
            out +=
                "<rect x=\"\(f(x0))\" y=\"\(f(y + 3))\" width=\"\(f(max(0.5, x1 - x0)))\" height=\"\(f(row - 6))\" fill=\"\(colour)\"><title>\(Pages.escape(label)): \(bars.format.show(value))</title></rect>"
            if i < bars.intervals.count, let (l, u) = bars.intervals[i] {
                out +=
                    "<line x1=\"\(f(x(l)))\" x2=\"\(f(x(u)))\" y1=\"\(f(y + row / 2))\" y2=\"\(f(y + row / 2))\" stroke=\"#000\" stroke-width=\"1.5\"/>"
            }
            out += text(
                max(x1, i < bars.intervals.count ? bars.intervals[i].map { x($0.1) } ?? 0 : 0) + 4, y + 15,
                bars.format.show(value), size: 11)
        }
        if let reference = bars.reference {
            out +=
                "<line x1=\"\(f(x(reference.value)))\" x2=\"\(f(x(reference.value)))\" y1=\"\(f(top))\" y2=\"\(f(height - 25))\" stroke=\"\(palette[3])\" stroke-width=\"2\" stroke-dasharray=\"6 3\"><title>\(Pages.escape(reference.label))</title></line>"
        }
        return (width, height, out)
    }

    // MARK: pyramid

    static func draw(_ p: Pyramid) -> (width: Double, height: Double, content: String) {
        let width = 640.0, centre = 320.0, labelHalf = 30.0, row = 16.0, top = 24.0
        let half = centre - labelHalf - 60
        let height = top + row * Double(p.labels.count) + 10
        let high = max(1, (p.left + p.right).compactMap { $0 }.max() ?? 1)
        var out = text(centre - labelHalf - 4, 14, p.leftName, anchor: "end", weight: "bold")
        out += text(centre + labelHalf + 4, 14, p.rightName, weight: "bold")
        // Oldest at the top.
        for (k, i) in p.labels.indices.reversed().enumerated() {
            let y = top + row * Double(k)
            out += text(centre, y + 12, p.labels[i], anchor: "middle", size: 11)
            for (side, values, colour) in [(-1.0, p.left, palette[4]), (1.0, p.right, palette[0])] {
                let edge = centre + side * labelHalf
                guard let v = values[i] else {
                    out += text(edge + side * 4, y + 12, "*", anchor: side < 0 ? "end" : "start", size: 11)
                    continue
                }
                let w = v / high * half
                let x = side < 0 ? edge - w : edge
                out +=
                    "<rect x=\"\(f(x))\" y=\"\(f(y + 2))\" width=\"\(f(max(0.5, w)))\" height=\"\(f(row - 3))\" fill=\"\(colour)\"><title>\(Pages.escape(side < 0 ? p.leftName : p.rightName)) \(Pages.escape(p.labels[i])): \(Format.count.show(v))</title></rect>"
                out += text(
                    side < 0 ? x - 3 : x + w + 3, y + 12, Format.count.show(v), anchor: side < 0 ? "end" : "start", size: 10)
            }
        }
        return (width, height, out)
    }

    // MARK: heat map

    static func draw(_ map: HeatMap) -> (width: Double, height: Double, content: String) {
        let left = 110.0, top = 40.0, cellWidth = 100.0, cellHeight = 34.0
        let width = left + cellWidth * Double(map.columns.count) + 10
        let height = top + cellHeight * Double(map.rows.count) + 10
        let values = map.values.flatMap { $0 }.compactMap { $0 }
        let low = values.min() ?? 0, high = max(values.max() ?? 1, low + 1e-9)
        var out = text(left + cellWidth * Double(map.columns.count) / 2, 12, map.columnTitle, anchor: "middle", weight: "bold")
        out += text(4, 30, map.rowTitle, size: 11, weight: "bold")
        for (j, column) in map.columns.enumerated() {
            out += text(left + cellWidth * (Double(j) + 0.5), top - 6, column, anchor: "middle", size: 11)
        }
        for (i, row) in map.rows.enumerated() {
            let y = top + cellHeight * Double(i)
            out += text(left - 6, y + cellHeight / 2 + 4, row, anchor: "end", size: 11)
            for (j, value) in map.values[i].enumerated() {
                let x = left + cellWidth * Double(j)
                // A single-hue light-to-dark blue scale reads the same in every colour vision.
                let t = value.map { ($0 - low) / (high - low) } ?? 0
                let fill =
                    value == nil
                    ? "#f2f2f2"
                    : String(
                        format: "#%02x%02x%02x", Int(239 - t * (239 - 8)), Int(243 - t * (243 - 48)), Int(255 - t * (255 - 107)))
                out +=
                    "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cellWidth - 2))\" height=\"\(f(cellHeight - 2))\" fill=\"\(fill)\"><title>\(Pages.escape(row)), \(Pages.escape(map.columns[j])): \(value.map(map.format.show) ?? "suppressed")</title></rect>"
                out +=
                    "<text x=\"\(f(x + cellWidth / 2 - 1))\" y=\"\(f(y + cellHeight / 2 + 4))\" text-anchor=\"middle\" font-size=\"11\" fill=\"\(t > 0.55 ? "#fff" : "#000")\">\(value.map(map.format.show) ?? "*")</text>"
            }
        }
        return (width, height, out)
    }

    // MARK: flow

    static func draw(_ flow: Flow) -> (width: Double, height: Double, content: String) {
        let n = flow.states.count
        let width = 720.0, height = 60.0 + 36.0 * Double(n) + 140, top = 36.0, gap = 10.0, bar = 16.0
        let leftX = 190.0, rightX = width - 190 - bar
        let value = { (i: Int, j: Int) -> Double in max(0, flow.counts[i][j] ?? 0) }
        let out = (0..<n).map { i in (0..<n).reduce(0) { $0 + value(i, $1) } }
        let into = (0..<n).map { j in (0..<n).reduce(0) { $0 + value($1, j) } }
        let total = max(out.reduce(0, +), 1e-9)
        let scale = (height - top - 10 - gap * Double(n - 1)) / total
        func tops(_ sizes: [Double]) -> [Double] {
            var y = top, result: [Double] = []
            for size in sizes {
                result.append(y)
                y += size * scale + gap
            }
            return result
        }
        let leftTop = tops(out), rightTop = tops(into)
        var content = text(leftX + bar / 2, 18, flow.leftTitle, anchor: "middle", weight: "bold")
        content += text(rightX + bar / 2, 18, flow.rightTitle, anchor: "middle", weight: "bold")
        // Bands first, so the bars sit on top; each band leaves its state's bar in order of
        // destination and enters the destination's bar in order of origin.
        var leftOffset = [Double](repeating: 0, count: n), rightOffset = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<n where value(i, j) > 0 {
                let h = value(i, j) * scale
                let y1 = leftTop[i] + leftOffset[i], y2 = rightTop[j] + rightOffset[j]
                leftOffset[i] += h
                rightOffset[j] += h
                let x1 = leftX + bar, x2 = rightX, mid = (x1 + x2) / 2
                let path =
                    "M\(f(x1)),\(f(y1)) C\(f(mid)),\(f(y1)) \(f(mid)),\(f(y2)) \(f(x2)),\(f(y2)) L\(f(x2)),\(f(y2 + h)) C\(f(mid)),\(f(y2 + h)) \(f(mid)),\(f(y1 + h)) \(f(x1)),\(f(y1 + h)) Z"
                content +=
                    "<path d=\"\(path)\" fill=\"\(palette[i % palette.count])\" fill-opacity=\"0.45\"><title>\(Pages.escape(flow.states[i])) to \(Pages.escape(flow.states[j])): \(flow.format.show(value(i, j)))</title></path>"
            }
        }
        for i in 0..<n {
            for (x, y, size, anchor, labelX) in [
                (leftX, leftTop[i], out[i], "end", leftX - 6), (rightX, rightTop[i], into[i], "start", rightX + bar + 6),
            ] {
                content +=
                    "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(bar))\" height=\"\(f(max(1, size * scale)))\" fill=\"\(palette[i % palette.count])\"></rect>"
                content += text(
                    labelX, y + max(1, size * scale) / 2 + 4, "\(flow.states[i]): \(flow.format.show(size))", anchor: anchor,
                    size: 11)
            }
        }
        return (width, height, content)
    }

    // MARK: plot

    static func dash(_ style: Plot.Series.Style) -> String {
        style == .dashed ? " stroke-dasharray=\"7 4\"" : style == .dotted ? " stroke-dasharray=\"2 3\"" : ""
    }

    static func draw(_ plot: Plot) -> (width: Double, height: Double, content: String) {
        // The legend column is as wide as the longest series name needs, within limits.
        let names = plot.series.map(\.name).filter { !$0.isEmpty }
        let right = min(220, max(150, 40 + (names.map { Chart.width($0, size: 11) }.max() ?? 0)))
        let width = 640.0, height = 380.0, top = 12.0, bottom = 46.0
        let xs = plot.series.flatMap { $0.points.map(\.x) }, ys = plot.series.flatMap { $0.points.map(\.y) + $0.lower }
        func range(_ axis: Plot.Axis, _ values: [Double]) -> ClosedRange<Double> {
            if let r = axis.range { return r }
            let low = values.min() ?? 0, high = values.max() ?? 1
            let pad = (high - low) * 0.05
            return high > low ? (low - pad)...(high + pad) : (low - 1)...(high + 1)
        }
        let xr = range(plot.x, xs), yr = range(plot.y, ys)
        let yMarks = ticks(yr.lowerBound, yr.upperBound)
        // Room on the left for the widest tick label (£2,000,000) beside the axis title.
        let left = max(64, 30 + (yMarks.map { Chart.width(tick($0, yMarks, plot.y.format), size: 11) }.max() ?? 0))
        let px = { (v: Double) in left + (v - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * (width - left - right) }
        let py = { (v: Double) in
            height - bottom - (v - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * (height - top - bottom)
        }
        var out = ""
        let xMarks =
            plot.x.categories.isEmpty
            ? ticks(xr.lowerBound, xr.upperBound)
            : Array(stride(from: 0, to: Double(plot.x.categories.count), by: max(1, Double(plot.x.categories.count / 6))))
        for t in xMarks {
            let label = plot.x.categories.isEmpty ? tick(t, xMarks, plot.x.format) : plot.x.categories[Int(t)]
            out +=
                "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(top))\" y2=\"\(f(height - bottom))\" stroke=\"#e5e5e5\"/>"
            out += text(px(t), height - bottom + 16, label, anchor: "middle", size: 11)
        }
        for t in yMarks {
            out += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\" stroke=\"#e5e5e5\"/>"
            out += text(left - 6, py(t) + 4, tick(t, yMarks, plot.y.format), anchor: "end", size: 11)
        }
        out +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" fill=\"none\" stroke=\"#888\"/>"
        out += text((left + width - right) / 2, height - 8, plot.x.title, anchor: "middle")
        out +=
            "<text x=\"14\" y=\"\(f((top + height - bottom) / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(f((top + height - bottom) / 2)))\">\(Pages.escape(plot.y.title))</text>"
        let clip = { (p: (x: Double, y: Double)) in xr.contains(p.x) && yr.contains(p.y) }
        // Labels sit in the right margin: a line's beside where it ends (direct labelling, so the
        // eye need not travel to a key), points' at the top. They are pushed apart where they
        // would overlap, and kept within the plot's height.
        var labels: [(y: Double, series: Plot.Series)] = []
        for series in plot.series {
            let colour = palette[series.colour % palette.count]
            switch series.style {
            case .points:
                for (i, p) in series.points.enumerated() where clip(p) {
                    let label = i < series.labels.count ? series.labels[i] + ": " : ""
                    out +=
                        "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"4\" fill=\"\(colour)\" stroke=\"#fff\"><title>\(Pages.escape(label))\(plot.x.format.show(p.x)), \(plot.y.format.show(p.y))</title></circle>"
                }
                if !series.name.isEmpty { labels.append((-.infinity, series)) }
            case .band:
                let edges = zip(series.points, series.lower).filter { xr.contains($0.0.x) }
                let clamp = { (y: Double) in min(max(y, yr.lowerBound), yr.upperBound) }
                let path = (edges.map { ($0.0.x, $0.0.y) } + edges.reversed().map { ($0.0.x, $0.1) }).map {
                    "\(f(px($0.0))),\(f(py(clamp($0.1))))"
                }.joined(separator: " ")
                out += "<polygon points=\"\(path)\" fill=\"\(colour)\" fill-opacity=\"0.2\" stroke=\"none\"/>"
                if !series.name.isEmpty, let end = edges.max(by: { $0.0.x < $1.0.x }) {
                    labels.append((py(clamp((end.0.y + end.1) / 2)), series))
                }
            case .line, .dashed, .dotted:
                let shown = series.points.filter(clip)
                let path = shown.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash(series.style))/>"
                // A series without a name shares the label before it (a funnel's lower limit).
                if !series.name.isEmpty, let end = shown.max(by: { $0.x < $1.x }) { labels.append((py(end.y), series)) }
            }
        }
        labels.sort { $0.y < $1.y }
        let gap = 16.0, highest = top + 8, lowest = height - bottom
        var at = labels.map(\.y)
        for i in at.indices { at[i] = max(at[i], i == 0 ? highest : at[i - 1] + gap) }
        for i in at.indices.reversed() { at[i] = min(at[i], i == at.count - 1 ? lowest : at[i + 1] - gap) }
        for (i, label) in labels.enumerated() {
            let y = at[i], colour = palette[label.series.colour % palette.count]
            if label.series.style == .points {
                out += "<circle cx=\"\(f(width - right + 16))\" cy=\"\(f(y))\" r=\"4\" fill=\"\(colour)\"/>"
            } else if label.series.style == .band {
                out +=
                    "<rect x=\"\(f(width - right + 6))\" y=\"\(f(y - 5))\" width=\"20\" height=\"10\" fill=\"\(colour)\" fill-opacity=\"0.2\"/>"
            } else {
                out +=
                    "<line x1=\"\(f(width - right + 6))\" x2=\"\(f(width - right + 26))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash(label.series.style))/>"
            }
            out += text(width - right + 32, y + 4, fit(label.series.name, right - 36, size: 11), size: 11)
        }
        return (width, height, out)
    }
}
