import * as cdk from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface TsStorageStackProps extends cdk.StackProps {
  /** The environment's name in aphex-config.yaml. */
  readonly environment: string;
}

/** An S3 bucket; its name is the output `BucketName`. No custom resources, no file assets. */
export class TsStorageStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props: TsStorageStackProps) {
    super(scope, id, props);
    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    new cdk.CfnOutput(this, 'BucketName', { value: bucket.bucketName });
  }
}
