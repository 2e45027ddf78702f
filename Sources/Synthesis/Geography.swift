import PHMCore

/// The synthetic health system's organisations and small areas.
///
/// Areas get a latent deprivation; practices serve contiguous runs of areas ordered by it, and
/// PCNs and localities group neighbouring practices, so deprivation differs between practices
/// and localities as it does in a real system.
struct Geography {
    struct Practice {
        var code: String
        var name: String
        var pcn: Int
        var locality: Int
        var areas: [Int]
    }

    var practices: [Practice] = []
    var pcnCodes: [String] = []
    var pcnNames: [String] = []
    var localityCodes: [String] = []
    var localityNames: [String] = []
    var areaCodes: [String] = []
    var areaDecile: [Int] = []
    var areaScore: [Double] = []
    var areaPractice: [Int] = []
    /// `postcodesPerArea` postcodes per area, each unique in the system.
    var areaPostcodes: [[String]] = []
    /// 40 postcode units to an area of about 1,500 people: about 40 people to a postcode.
    static let postcodesPerArea = 40
    var areaIndicators: [[Double]] = []

    static let organisationCode = "QX9"
    static let organisationName = "Synthetic Integrated Care Board"
    static let towns = [
        "Ashford Vale", "Brookmere", "Castleton", "Dunmore", "Eastwick", "Fairhaven", "Glenford", "Hollowbrook",
        "Ivybridge Moor", "Kingsmead", "Larkhill", "Millbrook", "Northgate", "Oakham Cross", "Penwood", "Queensbury",
        "Redcliffe", "Stonebridge", "Thornbury", "Upton Hale",
    ]
    static let practiceWords = [
        "Riverside", "Park", "Market", "Church", "Station", "Castle", "Meadow", "Abbey", "Bridge", "Elm", "Victoria", "Hill",
    ]
    static let practiceKinds = ["Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice"]

    init(people: Int, seed: UInt64) {
        var rng = Xoshiro(seed: seed, 0xA11, 0)
        let practiceCount = max(2, Int((Double(people) / 9_000).rounded()))
        let pcnCount = max(1, (practiceCount + 3) / 4)
        let localityCount = max(1, min(Geography.towns.count, (pcnCount + 2) / 3))
        let areaCount = max(10, people / 1_500)

        // Latent deprivation: neighbouring areas (by index) are alike; deciles by rank are uniform.
        var latent: [Double] = []
        var walk = 0.0
        for _ in 0..<areaCount {
            walk = 0.85 * walk + rng.normal()
            latent.append(walk + 0.5 * rng.normal())
        }
        let order = latent.indices.sorted { latent[$0] < latent[$1] }
        areaDecile = [Int](repeating: 0, count: areaCount)
        for (rank, area) in order.enumerated() { areaDecile[area] = 1 + rank * 10 / areaCount }
        areaCodes = (0..<areaCount).map { "E019" + Geography.pad($0 + 1, 5) }
        areaScore = areaDecile.map { d in max(1, 55 - 5.2 * Double(d) + 3 * rng.normal()) }
        // Air quality and green space vary smoothly across neighbouring areas, on their own: each
        // is made exactly uncorrelated across the areas with deprivation (and green space with air
        // quality too), since two smooth series over a few dozen areas are often correlated by
        // chance, so the gradients outputs show are their own. Fine particles raise emergency
        // admissions (`Calibration.pm25Effect`); green space changes nothing (a null indicator);
        // overcrowding follows deprivation and has no effect of its own (a confounded gradient).
        var air = Xoshiro(seed: seed, 0xA11, 1)
        var pm25Walk = 0.0, greenWalk = 0.0
        areaIndicators = areaDecile.map { d in
            pm25Walk = 0.9 * pm25Walk + 0.436 * air.normal()  // a stationary walk with SD 1
            greenWalk = 0.9 * greenWalk + 0.436 * air.normal()
            let deprived = Double(10 - d)
            return [2.5 * pm25Walk + 0.8 * rng.normal(), 10 * greenWalk + 6 * rng.normal(), 2 + 0.9 * deprived + rng.normal()]
        }
        let deprivation = Geography.centred(areaDecile.map(Double.init))
        let pm25 = Geography.residual(areaIndicators.map { $0[0] }, [deprivation])
        let green = Geography.residual(areaIndicators.map { $0[1] }, [deprivation, pm25])
        for a in 0..<areaCount {
            areaIndicators[a][0] = (Calibration.pm25Centre + pm25[a]).clamped(3, 20)
            areaIndicators[a][1] = (70 + green[a]).clamped(10, 100)
            areaIndicators[a][2] = areaIndicators[a][2].clamped(0, 30)
        }
        // Practices serve contiguous runs of areas (areas are in geographic order).
        areaPractice = (0..<areaCount).map { $0 * practiceCount / areaCount }
        localityCodes = (0..<localityCount).map { "L" + Geography.pad($0 + 1, 2) }
        localityNames = (0..<localityCount).map { Geography.towns[$0] }
        pcnCodes = (0..<pcnCount).map { "U9" + Geography.pad($0 + 1, 4) }
        pcnNames = (0..<pcnCount).map { k in
            let town = localityNames[min(localityCount - 1, k * localityCount / pcnCount)]
            return "\(town) \(["North", "South", "East", "West", "Central"][k % 5]) PCN"
        }
        for p in 0..<practiceCount {
            let pcn = p * pcnCount / practiceCount
            let locality = min(localityCount - 1, pcn * localityCount / pcnCount)
            let name =
                "\(Geography.practiceWords[rng.int(0..<Geography.practiceWords.count)]) \(Geography.practiceKinds[p % Geography.practiceKinds.count]), \(localityNames[locality])"
            let areas = (0..<areaCount).filter { areaPractice[$0] == p }
            practices.append(
                Practice(code: "Z" + Geography.pad(p + 1, 5), name: name, pcn: pcn, locality: locality, areas: areas))
        }
        // Ten areas to a postcode district: 400 units of the 3,600 inward codes, drawn without
        // repeats, so no postcode lies in two areas. Districts run 1 to 99 in the area QX, then
        // QY and on (990 areas, about 1.5 million people, to each).
        let letters = Array("ABDEFGHJLNPQRSTUWXYZ")
        let postcodeAreas = ["QX", "QY", "QZ", "XQ", "XY", "XZ", "ZQ", "ZX", "ZY", "YQ", "YX", "YZ"]
        var used = Set<String>()
        areaPostcodes = (0..<areaCount).map { a in
            let prefix = postcodeAreas[(a / 990) % postcodeAreas.count], district = 1 + (a / 10) % 99
            return (0..<Geography.postcodesPerArea).map { _ in
                while true {
                    let code =
                        "\(prefix)\(district) \(rng.int(1..<10))\(letters[rng.int(0..<letters.count)])\(letters[rng.int(0..<letters.count)])"
                    if used.insert(code).inserted { return code }
                }
            }
        }
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func centred(_ x: [Double]) -> [Double] {
        let mean = x.reduce(0, +) / Double(max(1, x.count))
        return x.map { $0 - mean }
    }

    /// `x` centred, less its least-squares projection on each of `on` (centred and mutually
    /// uncorrelated): uncorrelated with each of them.
    static func residual(_ x: [Double], _ on: [[Double]]) -> [Double] {
        var r = centred(x)
        for z in on {
            let zz = zip(z, z).reduce(0) { $0 + $1.0 * $1.1 }
            guard zz > 0 else { continue }
            let b = zip(r, z).reduce(0) { $0 + $1.0 * $1.1 } / zz
            for i in r.indices { r[i] -= b * z[i] }
        }
        return r
    }
}

extension Double {
    func clamped(_ lo: Double, _ hi: Double) -> Double { Swift.min(hi, Swift.max(lo, self)) }
}
