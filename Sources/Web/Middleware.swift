import Hummingbird

/// Security headers on every response, refusals included: no inline scripts or styles, no
/// framing, no sniffing, no caching, HTTPS only once a browser has come over it, and API answers
/// never rendered in place (OWASP ASVS 14.4).
struct SecurityHeaders: RouterMiddleware {
    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            // A refusal (404, 413, 400 thrown by a route) gets the headers too.
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        // Sent over plain HTTP it is ignored; through the TLS proxy a deployment puts in front,
        // it keeps the browser on HTTPS.
        response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains"
        if request.uri.path.hasPrefix("/api/"), response.headers[.contentDisposition] == nil {
            response.headers[.contentDisposition] = "attachment; filename=\"api.json\""
        }
        return response
    }
}
