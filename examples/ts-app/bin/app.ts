#!/usr/bin/env node
// The TypeScript sample app: one stack per environment, configured by CDK context only.
//
// Context the pipeline passes (`-c key=value`):
//   environment  the environment's name from aphex-config.yaml (required)
//   account      its 12-digit account (required)
//   region       its region (required)
//   plus the environment's own `context` from aphex-config.yaml.
import * as cdk from 'aws-cdk-lib';
import { TsStorageStack } from '../lib/storage-stack';

const app = new cdk.App();

function context(key: string): string {
  const value = app.node.tryGetContext(key);
  if (value === undefined || value === null || String(value) === '') {
    throw new Error(
      `missing CDK context: ${key} (pass -c environment=NAME -c account=123456789012 -c region=us-east-1)`,
    );
  }
  return String(value);
}

const environment = context('environment');
const account = context('account');
const region = context('region');
if (!/^\d{12}$/.test(account)) {
  throw new Error(`context account=${JSON.stringify(account)} is not 12 digits`);
}

new TsStorageStack(app, 'TsStorageStack', {
  environment,
  env: { account, region },
  // The defaults of `cdk bootstrap`: qualifier hnb659fds, its roles and bucket.
  synthesizer: new cdk.DefaultStackSynthesizer(),
});

app.synth();
