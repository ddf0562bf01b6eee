// The submitter Lambda of test/infra/example-pipeline.ts: calls the IAM route with its role's credentials
// (SigV4, service execute-api) instead of an API key, passing the Step Functions task token along.
const { createHash, createHmac } = require('node:crypto');
const { SignatureV4 } = require('@smithy/signature-v4');

// SHA-256 as SignatureV4 wants it (an HMAC when given a secret), from node:crypto.
class Sha256 {
  constructor(secret) {
    this.hash = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data) {
    this.hash.update(data);
  }
  async digest() {
    return this.hash.digest();
  }
}

// #region readme-iam-caller-code
exports.handler = async ({ prompt, taskToken }) => {
  const signer = new SignatureV4({
    service: 'execute-api',
    region: process.env.AWS_REGION,
    // Lambda puts the role's temporary credentials in the environment.
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
      sessionToken: process.env.AWS_SESSION_TOKEN,
    },
    sha256: Sha256,
  });
  const url = new URL(`${process.env.VEO_IAM_URL}/veo/generate`);
  const body = JSON.stringify({ prompt, model: 'veo3_fast', taskToken });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body });
  const answer = await response.json();
  // kie's envelope: anything but 200 fails the step now, with kie's code (e.g. Veo.402).
  if (answer.code !== 200) throw new Error(`Veo.${answer.code}: ${answer.msg}`);
  // The step keeps waiting: the service answers its token when the task ends.
  return answer.data;
};
// #endregion
