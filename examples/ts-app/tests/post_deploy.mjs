// Post-deployment test of the TypeScript app: the stack's output reached the test stage.
//
// The pipeline passes each stack output as an environment variable named <STACK>_<OUTPUT>
// in upper snake case (TsStorageStack / BucketName -> TS_STORAGE_STACK_BUCKET_NAME), plus
// the environment's AWS settings. Only node itself is used: no AWS SDK in the toolchain.
const name = 'TS_STORAGE_STACK_BUCKET_NAME';
const bucket = (process.env[name] ?? '').trim();
const failures = [];
if (!bucket) {
  failures.push(`${name} is not set: run this test with the stack outputs as env vars`);
} else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
  failures.push(`${name}=${JSON.stringify(bucket)} is not an S3 bucket name`);
}
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '';
if (!region) {
  failures.push('AWS_REGION is not set');
}
if (failures.length > 0) {
  for (const failure of failures) console.error(`FAIL ${failure}`);
  process.exit(1);
}
console.log(`ok: bucket ${bucket} deployed in ${region}`);
