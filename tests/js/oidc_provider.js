// A real OpenID Connect provider (panva's oidc-provider) for sign-in and trusted-publishing tests.
// usage: node oidc_provider.js PORT CONFIG_JSON
//   CONFIG_JSON: {"clients": [oidc-provider client metadata…],
//                 "accounts": {"<login>": {claims…}},            (any other login signs in with no claims)
//                 "resources": {"<indicator>": {"audience": "rigging", "ttl": 300}},
//                 "ci_claims": {"<client_id>": {claims…}}}       (added to that client's JWT access tokens)
// Prints one line "ready ISSUER" once it listens on 127.0.0.1:PORT; stops on SIGTERM.
const crypto = require("crypto");

async function main() {
  // oidc-provider is an ES module; a dynamic import keeps this script CommonJS like its neighbours
  const { default: Provider } = await import("oidc-provider");
  const [port, raw] = process.argv.slice(2);
  const config = JSON.parse(raw);
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = config.accounts || {};
  const resources = config.resources || {};
  const ciClaims = config.ci_claims || {};
  // a fresh signing key per run: nothing a test trusts is checked in
  const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = new Provider(issuer, {
    clients: config.clients || [],
    jwks: { keys: [{ ...key, kid: crypto.randomUUID(), use: "sig", alg: "RS256" }] },
    cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["preferred_username", "nickname", "name"],
      // what GitHub's /user answers, for the "github" provider type pointed at this server
      github: ["id", "login", "name", "email"],
    },
    // PKCE on every authorization code flow, so a client that does not send S256 fails here
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        // a workload token, like GitHub Actions' ambient one: a JWT for the audience asked for
        getResourceServerInfo: (ctx, indicator) => {
          const found = resources[indicator];
          if (!found) throw new Provider.errors.InvalidTarget();
          return {
            scope: "publish",
            audience: found.audience,
            accessTokenFormat: "jwt",
            accessTokenTTL: found.ttl || 300,
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    extraTokenClaims: (ctx, token) => (token.kind === "ClientCredentials" ? ciClaims[token.clientId] : undefined),
    findAccount: (ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, ...(accounts[sub] || {}) }),
    }),
  });
  const server = provider.listen(Number(port), "127.0.0.1", () => console.log(`ready ${issuer}`));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

main().catch((err) => {
  console.error(`oidc_provider: ${err.stack || err}`);
  process.exit(1);
});
