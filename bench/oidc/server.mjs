// bench/oidc/server.mjs - the oidc-provider peer of `make bench` (token issuance per second).
//   node bench/oidc/server.mjs PORT CLIENT_FILE
// An OAuth 2.0 authorization server built from the npm oidc-provider (exact version in
// bench/oidc/package.json, installed under bench/oidc/ for the bench only) on 127.0.0.1:PORT, configured
// like keyward's /oauth/token: the client credentials grant, client_secret_basic, and JWT access tokens
// (RFC 9068 at+jwt) signed with Ed25519 (EdDSA) for one resource server, which is the default resource,
// so a plain `grant_type=client_credentials` request gets a JWT, as on keyward. One client; its id and
// secret (random, made here) are written to CLIENT_FILE (mode 0600) as "ID SECRET". Memory adapter
// (oidc-provider does not store JWT access tokens), no logging, one process (Node is single-threaded;
// keyward serves with one event loop in the same run). Stop it by its pid.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, clientFile] = process.argv.slice(2);
if (!/^[0-9]{1,5}$/.test(port || '') || !clientFile) {
  console.error('usage: node bench/oidc/server.mjs PORT CLIENT_FILE');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.bench.invalid';
const clientId = 'bench-client';
const clientSecret = randomBytes(32).toString('base64url');

const { privateKey } = generateKeyPairSync('ed25519');
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-ed25519', alg: 'EdDSA', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'EdDSA', // the only key is Ed25519 (no id tokens are issued here)
    scope: 'documents:read documents:write',
  }],
  jwks: { keys: [jwk] },
  scopes: ['documents:read', 'documents:write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error('unknown resource');
        return {
          scope: 'documents:read documents:write',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'EdDSA' } },
        };
      },
    },
  },
  enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
  ttl: { ClientCredentials: 300 },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

writeFileSync(clientFile, `${clientId} ${clientSecret}\n`, { mode: 0o600 });
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider ${issuer}`));
