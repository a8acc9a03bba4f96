// A real OpenID Connect provider for the tests (node's `oidc-provider`, installed from npm by
// `make`): the district's identity provider as OneGrid meets it in a deployment. Its accounts,
// their claims and the callback URLs come from the environment; its own development login and
// consent pages stand in for the district's. Prints "ready <issuer>" once it listens.
//
//   PORT=…  REDIRECT_URIS=url[,url]  ACCOUNTS='{"wang": {"name": "王芳", "onegrid_role": "社区网格长", …}}'
//   node tests/oidc/provider.mjs
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const redirect_uris = process.env.REDIRECT_URIS.split(",");
const accounts = JSON.parse(process.env.ACCOUNTS || "{}");
const client = (client_id) => ({
  client_id, redirect_uris, token_endpoint_auth_method: "none",  // public clients: PKCE is required
  grant_types: ["authorization_code"], response_types: ["code"],
});

const provider = new Provider(issuer, {
  // "onegrid" as a district registers it; "onegrid-short" whose ID tokens live one second (an
  // expired token); "another-app", another system of the same district (a token for another audience)
  clients: [client("onegrid"), client("onegrid-short"), client("another-app")],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username", "onegrid_role", "onegrid_area", "onegrid_department", "onegrid_worker"],
  },
  conformIdTokenClaims: false,  // the profile claims in the ID token itself, as many district IdPs do
  findAccount: async (ctx, id) => accounts[id] && {
    accountId: id,
    claims: async () => ({ sub: `sub-${id}`, preferred_username: id, ...accounts[id] }),
  },
  ttl: { IdToken: (ctx, token, c) => (c.clientId === "onegrid-short" ? 1 : 3600) },
  cookies: { keys: ["onegrid-tests-only"] },
});
provider.listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
