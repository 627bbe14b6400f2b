'use strict';
/**
 * Peer benchmark: the `dev` environment that benchmarks/plan_scale.py plans (N generated tenants, ABAC role layout,
 * no tenant API), written as one AWS CDK stack and synthesized with cdk-nag's AwsSolutions checks.
 *
 *   node app.js [N]            (or CDK_PEER_TENANTS=N; CDK_OUTDIR sets the cloud assembly folder, as `cdk synth` does)
 *
 * It prints one JSON line: tenants, resources (in the synthesized template), resourcesByType, nag errors and
 * warnings, synth and total wall time. `node app.js` calling `app.synth()` is what `cdk synth` runs; no CDK CLI,
 * no AWS credentials (a fixed dummy account and region).
 *
 * Modelled, per tenant: the user pool (the shard's two sign-in triggers, one invoke permission each), two app clients
 * (hr-admin, ess-mobile for the stack's environment), the identity pool, its principal tag and role attachment, the
 * Verified Permissions store (schema inside it: CloudFormation has no separate schema resource), 3 templates, 7 static
 * and 3 template-linked policies, the identity source, and the registry item (an AwsCustomResource PutItem: CloudFormation
 * has no DynamoDB item resource). Per ABAC shard of 3 tenants: the admin and user role and their managed policies.
 * Shared once: the KMS keys, 8 pool tables + the registry table with their alarms, 5 buckets, the alarm topic, the
 * trigger functions (one pair per 40 pools), the system pool and roles, the system jobs (up to 146 tenants, as
 * plan_scale.py), the image pipeline's processing leg, the dev MSK cluster with its consumer, and the dashboard.
 * Each tenant's resources sit in one construct (tagged saas:tenant), the app is tagged as ours is, and the feature
 * flags are those `cdk init` writes.
 * CDK_PEER_TENANTS_PER_STACK=K puts the tenants in stacks of K (a multiple of 3; 18 keeps each under 500 resources, 9
 * each template under 1 MB), as a deployable CDK app needs. docs/benchmarks.md ("Peer: CDK + cdk-nag") lists what is left out.
 */
const fs = require('fs');
const path = require('path');
const cdk = require('aws-cdk-lib');
const cxapi = require('aws-cdk-lib/cx-api');
const { AwsSolutionsChecks } = require('cdk-nag');
const { Construct } = require('constructs');

const {
  aws_cloudwatch: cw,
  aws_cloudwatch_actions: cwActions,
  aws_cognito: cognito,
  aws_dynamodb: dynamodb,
  aws_ec2: ec2,
  aws_iam: iam,
  aws_kms: kms,
  aws_lambda: lambda,
  aws_lambda_destinations: destinations,
  aws_lambda_event_sources: sources,
  aws_logs: logs,
  aws_msk: msk,
  aws_s3: s3,
  aws_s3_notifications: s3n,
  aws_scheduler: scheduler,
  aws_sns: sns,
  aws_sns_subscriptions: subscriptions,
  aws_sqs: sqs,
  aws_verifiedpermissions: avp,
  custom_resources: cr,
  Duration,
  RemovalPolicy,
} = cdk;

const ROOT = path.resolve(__dirname, '..', '..');
const CEDAR = path.join(ROOT, 'components', 'assets', 'cedar');
const ENV = { account: '123456789012', region: 'ap-southeast-1' };
const ENVIRONMENT = 'dev';
const PREFIX = 'AIML-SaaS';
/** Pools per trigger function pair (components/triggers.py: a 20 KB resource policy, 10% kept free). */
const POOLS_PER_TRIGGER = 40;
/** Tenants per ABAC role shard (components/iam.py abac_tenants_per_role at a 2,048-character trust policy). */
const TENANTS_PER_ROLE = 3;
/** plan_scale.py leaves out saas:jobs above this (the writer-role trust holds no more tenants). */
const JOBS_MAX_TENANTS = 146;
const POOL_TABLES = ['Employment', 'TenantJob', 'WorkSchedule', 'PIM', 'Leave', 'TimeAttendance', 'Payroll', 'ImageMetadata'];
const RUNNERS = ['Job-Runner', 'AttGen-System', 'AttGen-Tenant', 'Employee-Earn-AL', 'CRUD-Item', 'Tenant-Notification-Dispatcher'];
const CLIENTS = [
  { id: 'hr-admin', refreshHours: 12 },
  { id: 'ess-mobile', refreshHours: 720 },
];

function tenantIds(n) {
  return Array.from({ length: n }, (_, i) => `t${String(i).padStart(4, '0')}`);
}

function cedarAssets() {
  const read = (dir) =>
    fs
      .readdirSync(path.join(CEDAR, dir))
      .filter((f) => f.endsWith('.cedar'))
      .sort()
      .map((f) => {
        const statement = fs.readFileSync(path.join(CEDAR, dir, f), 'utf8');
        const description = statement
          .split('\n')
          .filter((l) => l.trim().startsWith('//'))
          .map((l) => l.trim().slice(2).trim())
          .join(' ')
          .slice(0, 150);
        return { id: f.replace(/\.cedar$/, ''), statement, description };
      });
  return {
    schema: fs.readFileSync(path.join(CEDAR, 'schema.cedarschema.json'), 'utf8'),
    policies: read('policies'),
    templates: read('templates'),
    links: JSON.parse(fs.readFileSync(path.join(CEDAR, 'links.json'), 'utf8')).links,
  };
}

/** The helpers both stacks share; `Platform` holds the shared pieces, `TenantStack` a slice of the tenants. */
class SaasStack extends cdk.Stack {
  /** One ABAC shard of tenants: their identities, the shard's two roles and policies, authorization, registry. */
  tenantShard(s, shard, p) {
    const label = `S${String(s).padStart(2, '0')}`;
    const identities = shard.map((t, i) => this.identity(t, p.triggerShards[Math.floor((s * TENANTS_PER_ROLE + i + 1) / POOLS_PER_TRIGGER)]));
    const roles = {};
    for (const role of ['Admin', 'User']) {
      const r = new iam.Role(this, `Tenant${role}Role${label}`, {
        roleName: `${PREFIX}-Tenant${role}Role-${label}-Dev`,
        description: `Tenant ${role.toLowerCase()}s of tenant shard ${label} (dev)`,
        maxSessionDuration: Duration.hours(1),
        assumedBy: this.cognitoPrincipal(identities[0].identityPool.ref, shard[0]).withSessionTags(),
      });
      for (let i = 1; i < shard.length; i++) {
        r.assumeRolePolicy.addStatements(
          new iam.PolicyStatement({
            principals: [new iam.FederatedPrincipal('cognito-identity.amazonaws.com')],
            actions: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
            conditions: this.cognitoConditions(identities[i].identityPool.ref, shard[i]),
          }),
        );
      }
      roles[role] = r;
    }
    new iam.ManagedPolicy(this, `TenantUserPolicy${label}`, {
      managedPolicyName: `${PREFIX}-TenantUserPolicy-${label}-Dev`,
      description: "Tenant users: caller's tenant only (TenantId tag)",
      roles: [roles.User],
      statements: [
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          resources: [p.documents.arnForObjects('tenants/${aws:PrincipalTag/TenantId}/users/${cognito-identity.amazonaws.com:sub}/*')],
        }),
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [p.documents.bucketArn],
          conditions: { StringLike: { 's3:prefix': ['tenants/${aws:PrincipalTag/TenantId}/users/${cognito-identity.amazonaws.com:sub}/*'] } },
        }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [p.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } } }),
      ],
    });
    new iam.ManagedPolicy(this, `TenantAdminPolicy${label}`, {
      managedPolicyName: `${PREFIX}-TenantAdminPolicy-${label}-Dev`,
      description: "Tenant administrators: caller's tenant only (TenantId tag)",
      roles: [roles.Admin],
      statements: [
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
          resources: POOL_TABLES.flatMap((t) => [p.tables[t].tableArn, `${p.tables[t].tableArn}/index/*`]),
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TENANT#${aws:PrincipalTag/TenantId}*'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
        }),
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [p.documents.arnForObjects('tenants/${aws:PrincipalTag/TenantId}/*')],
        }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [p.key.keyArn], conditions: { StringEquals: { 'kms:ViaService': [`s3.${this.region}.amazonaws.com`, `dynamodb.${this.region}.amazonaws.com`] } } }),
      ],
    });
    shard.forEach((t, i) => {
      const id = identities[i];
      new cognito.CfnIdentityPoolPrincipalTag(id.scope, 'PrincipalTags', {
        identityPoolId: id.identityPool.ref,
        identityProviderName: id.pool.userPoolProviderName,
        useDefaults: false,
        principalTags: { TenantId: 'custom:tenantId' },
      });
      this.attachRoles(t, id, roles.User, [['admin', roles.Admin], ['user', roles.User]]);
      const store = this.authorization(t, id, p.cedar);
      this.registryItem(t, id, store);
    });
  }

  alarm(id, metric, threshold) {
    const alarm = new cw.Alarm(this, `Alarm-${id}`, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      alarmDescription: id,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.alarms));
    alarm.addOkAction(new cwActions.SnsAction(this.alarms));
    return alarm;
  }

  /** A handler function with its own role and KMS-encrypted log group, as HandlerFunction builds one. */
  handler(name, handler, { description, environment = {}, timeout = 30, memorySize = 256, deadLetterQueue } = {}) {
    const functionName = `${PREFIX}-${name}-Dev`;
    const logGroup = new logs.LogGroup(this, `${name}Logs`, { logGroupName: `/aws/lambda/${functionName}`, encryptionKey: this.key, retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Execution role of ${functionName}` });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${logGroup.logGroupArn}`] }));
    return new lambda.Function(this, `${name}Function`, {
      functionName,
      description,
      runtime: lambda.Runtime.PYTHON_3_13,
      architecture: lambda.Architecture.ARM_64,
      handler,
      code: this.code,
      role,
      layers: [this.layer],
      memorySize,
      timeout: Duration.seconds(timeout),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environmentEncryption: this.key,
      deadLetterQueue,
      environment: { POWERTOOLS_SERVICE_NAME: name, POWERTOOLS_METRICS_NAMESPACE: 'saas', SAAS_ENVIRONMENT: ENVIRONMENT, ...environment },
    });
  }

  /** A tenant-scoped writer role the function assumes with a TenantId session tag (one statement, every tenant). */
  writerRole(name, fn, tenants, grant) {
    const role = new iam.Role(this, `${name}WriterRole`, {
      roleName: `${PREFIX}-${name}-W-Dev`,
      description: `Tenant-scoped writer of ${fn.node.id}`,
      assumedBy: new iam.ArnPrincipal(fn.role.roleArn).withConditions({ StringEquals: { 'aws:RequestTag/TenantId': tenants }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['TenantId'] } }).withSessionTags(),
    });
    grant(role);
    return role;
  }

  cognitoConditions(identityPoolId, tenant) {
    return {
      StringEquals: { 'cognito-identity.amazonaws.com:aud': identityPoolId, ...(tenant ? { 'aws:RequestTag/TenantId': tenant } : {}) },
      'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
    };
  }

  cognitoPrincipal(identityPoolId, tenant) {
    return new iam.FederatedPrincipal('cognito-identity.amazonaws.com', this.cognitoConditions(identityPoolId, tenant), 'sts:AssumeRoleWithWebIdentity');
  }

  /** User pool (the shard's triggers), its two app clients and its identity pool, as TenantIdentity builds them. */
  identity(tenant, triggers) {
    // One construct per tenant, as a CDK user would write a TenantIdentity L3 (ours: one component per tenant).
    const scope = new Construct(this, tenant);
    cdk.Tags.of(scope).add('saas:tenant', tenant);
    const pool = new cognito.UserPool(scope, 'UserPool', {
      userPoolName: `${PREFIX}-${tenant}`,
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      deletionProtection: false,
      standardAttributes: { email: { required: true, mutable: true } },
      customAttributes: {
        tenantId: new cognito.StringAttribute({ minLen: 2, maxLen: 31, mutable: false }),
        tenantRole: new cognito.StringAttribute({ minLen: 1, maxLen: 16, mutable: true }),
        environments: new cognito.StringAttribute({ minLen: 3, maxLen: 32, mutable: true }),
      },
      lambdaTriggers: { preAuthentication: triggers.PreAuth },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    pool.addTrigger(cognito.UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, triggers.PreToken, cognito.LambdaVersion.V2_0);
    const readAttributes = new cognito.ClientAttributes()
      .withStandardAttributes({ email: true, emailVerified: true, fullname: true, givenName: true, familyName: true })
      .withCustomAttributes('tenantId', 'tenantRole', 'environments');
    const writeAttributes = new cognito.ClientAttributes().withStandardAttributes({ fullname: true, givenName: true, familyName: true });
    const clients = CLIENTS.map((c) =>
      pool.addClient(`${c.id}-${ENVIRONMENT}`, {
        userPoolClientName: `${PREFIX}-${tenant}-${c.id}-${ENVIRONMENT}`,
        generateSecret: false,
        authFlows: { userSrp: true },
        disableOAuth: true,
        preventUserExistenceErrors: true,
        enableTokenRevocation: true,
        readAttributes,
        writeAttributes,
        accessTokenValidity: Duration.minutes(60),
        idTokenValidity: Duration.minutes(60),
        refreshTokenValidity: Duration.hours(c.refreshHours),
        authSessionValidity: Duration.minutes(3),
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      }),
    );
    const identityPool = new cognito.CfnIdentityPool(scope, 'IdentityPool', {
      identityPoolName: `${PREFIX}-${tenant}-Dev`,
      allowUnauthenticatedIdentities: false,
      allowClassicFlow: false,
      cognitoIdentityProviders: clients.map((c) => ({ clientId: c.userPoolClientId, providerName: pool.userPoolProviderName, serverSideTokenCheck: true })),
    });
    return { scope, pool, clients, identityPool };
  }

  attachRoles(tenant, id, authenticated, rules) {
    new cognito.CfnIdentityPoolRoleAttachment(id.scope, 'Roles', {
      identityPoolId: id.identityPool.ref,
      roles: { authenticated: authenticated.roleArn },
      roleMappings: Object.fromEntries(
        id.clients.map((c, i) => [
          `client${i}`,
          {
            identityProvider: cdk.Fn.join('', [id.pool.userPoolProviderName, ':', c.userPoolClientId]),
            type: 'Rules',
            ambiguousRoleResolution: 'Deny',
            rulesConfiguration: { rules: rules.map(([value, role]) => ({ claim: 'custom:tenantRole', matchType: 'Equals', value, roleArn: role.roleArn })) },
          },
        ]),
      ),
    });
  }

  /** Verified Permissions store, templates, static and template-linked policies, identity source (TenantAuthorization). */
  authorization(tenant, id, cedar) {
    const store = new avp.CfnPolicyStore(id.scope, 'AuthzStore', {
      description: `OptimalHR authorization for tenant ${tenant} in ${ENVIRONMENT}`,
      validationSettings: { mode: 'STRICT' },
      schema: { cedarJson: cedar.schema },
      deletionProtection: { mode: 'DISABLED' },
    });
    const templates = {};
    for (const t of cedar.templates) {
      templates[t.id] = new avp.CfnPolicyTemplate(id.scope, `AuthzTemplate-${t.id}`, { policyStoreId: store.attrPolicyStoreId, statement: t.statement, description: t.description });
    }
    for (const p of cedar.policies) {
      new avp.CfnPolicy(id.scope, `AuthzPolicy-${p.id}`, {
        policyStoreId: store.attrPolicyStoreId,
        definition: { static: { statement: p.statement.split('"{{tenantId}}"').join(JSON.stringify(tenant)), description: p.description } },
      });
    }
    for (const link of cedar.links) {
      new avp.CfnPolicy(id.scope, `AuthzLink-${link.template}-${link.group}`, {
        policyStoreId: store.attrPolicyStoreId,
        definition: {
          templateLinked: {
            policyTemplateId: templates[link.template].attrPolicyTemplateId,
            principal: { entityType: 'OptimalHR::UserGroup', entityId: cdk.Fn.join('|', [id.pool.userPoolId, link.group]) },
            resource: { entityType: 'OptimalHR::Tenant', entityId: tenant },
          },
        },
      });
    }
    new avp.CfnIdentitySource(id.scope, 'AuthzIdentitySource', {
      policyStoreId: store.attrPolicyStoreId,
      principalEntityType: 'OptimalHR::User',
      configuration: {
        cognitoUserPoolConfiguration: {
          userPoolArn: id.pool.userPoolArn,
          clientIds: id.clients.map((c) => c.userPoolClientId),
          groupConfiguration: { groupEntityType: 'OptimalHR::UserGroup' },
        },
      },
    });
    return store;
  }

  /** The tenant's registry item: CloudFormation has no DynamoDB item resource, so an AwsCustomResource PutItem. */
  registryItem(tenant, id, store) {
    const item = {
      tenantId: { S: tenant },
      status: { S: 'active' },
      userPoolId: { S: id.pool.userPoolId },
      identityPoolId: { S: id.identityPool.ref },
      clientIds: { SS: id.clients.map((c) => c.userPoolClientId) },
      appClients: { M: Object.fromEntries(id.clients.map((c) => [c.userPoolClientId, { S: ENVIRONMENT }])) },
      ...(store ? { policyStoreId: { S: store.attrPolicyStoreId } } : {}),
    };
    const put = { service: 'DynamoDB', action: 'putItem', parameters: { TableName: this.registry.tableName, Item: item }, physicalResourceId: cr.PhysicalResourceId.of(`registry-${tenant}`) };
    new cr.AwsCustomResource(id.scope, 'RegistryItem', {
      onCreate: put,
      onUpdate: put,
      onDelete: { service: 'DynamoDB', action: 'deleteItem', parameters: { TableName: this.registry.tableName, Key: { tenantId: { S: tenant } } } },
      role: this.registryWriter,
      installLatestAwsSdk: false,
    });
  }

  /** Scheduler, job picker and the six runners, each with its DLQ, async config, alarms and (five) writer roles. */
  jobs(tenants, jobsTable) {
    const notifications = new sns.Topic(this, 'JobNotifications', { topicName: `${PREFIX}-JobNotifications-Dev`, masterKey: this.key, enforceSSL: true });
    const dlq = (name) => new sqs.Queue(this, `${name}Dlq`, { queueName: `${PREFIX}-${name}-Dev-DLQ`, encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: this.key, enforceSSL: true, retentionPeriod: Duration.days(14) });
    const runnerFns = {};
    for (const name of ['JobPicker', ...RUNNERS]) {
      const queue = dlq(name);
      const handler = name === 'JobPicker' ? 'job_picker' : 'job_runners';
      const fn = this.handler(name, `saas_platform.handlers.${handler}.lambda_handler`, { timeout: 60, deadLetterQueue: name === 'JobPicker' ? queue : undefined, environment: { JOBS_TABLE: jobsTable.tableName } });
      if (name !== 'JobPicker') fn.configureAsyncInvoke({ onFailure: new destinations.SqsDestination(queue), retryAttempts: 2, maxEventAge: Duration.hours(1) });
      else fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
      jobsTable.grantReadWriteData(fn);
      this.alarm(`jobs-${name}-errors`, fn.metricErrors(), 0);
      this.alarm(`jobs-${name}-throttles`, fn.metricThrottles(), 0);
      this.alarm(`jobs-${name}-p99-duration`, fn.metricDuration({ statistic: 'p99' }), 50000);
      this.alarm(`jobs-${name}-dlq-depth`, queue.metricApproximateNumberOfMessagesVisible(), 0);
      if (name !== 'JobPicker' && name !== 'AttGen-System') {
        this.writerRole(name, fn, tenants, (r) => jobsTable.grantWriteData(r));
      }
      if (name === 'Tenant-Notification-Dispatcher') notifications.grantPublish(fn);
      runnerFns[name] = fn;
    }
    for (const fn of RUNNERS.map((r) => runnerFns[r])) fn.grantInvoke(runnerFns.JobPicker);
    const schedulerDlq = dlq('Scheduler');
    const schedulerRole = new iam.Role(this, 'SchedulerRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }) });
    runnerFns.JobPicker.grantInvoke(schedulerRole);
    schedulerDlq.grantSendMessages(schedulerRole);
    new scheduler.CfnSchedule(this, 'JobsSchedule', {
      name: `${PREFIX}-Scheduler-Dev`,
      description: 'Fires the JobPicker of Dev every minute',
      scheduleExpression: 'rate(1 minute)',
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: runnerFns.JobPicker.functionArn,
        roleArn: schedulerRole.roleArn,
        input: JSON.stringify({ source: 'saas.scheduler', schedule: `${PREFIX}-Scheduler-Dev` }),
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 300 },
        deadLetterConfig: { arn: schedulerDlq.queueArn },
      },
    });
    this.alarm('jobs-scheduler-dlq-depth', schedulerDlq.metricApproximateNumberOfMessagesVisible(), 0);
    this.alarm('jobs-jobs-failed', new cw.Metric({ namespace: 'saas', metricName: 'JobsFailed', statistic: 'Sum' }), 0);
    this.alarm('jobs-job-lag', new cw.Metric({ namespace: 'saas', metricName: 'JobLagSeconds', statistic: 'Maximum' }), 300);
  }
}

class Platform extends SaasStack {
  constructor(scope, id, n, tenantsPerStack = 0) {
    super(scope, id, { env: ENV });
    const tenants = tenantIds(n);
    const cedar = cedarAssets();
    const key = new kms.Key(this, 'Key', {
      enableKeyRotation: true,
      alias: `alias/aiml-saas-${ENVIRONMENT}`,
      description: `${PREFIX} Dev: data at rest (tables, buckets, topics, logs)`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`));
    this.key = key;
    this.code = lambda.Code.fromAsset(path.join(ROOT, 'handlers'), { exclude: ['__pycache__', '*.pyc'] });
    const artifacts = s3.Bucket.fromBucketName(this, 'Artifacts', `aiml-saas-${ENVIRONMENT}-artifacts-${this.account}`);
    this.layer = new lambda.LayerVersion(this, 'DepsLayer', {
      code: lambda.Code.fromBucket(artifacts, 'layers/deps.zip'),
      compatibleRuntimes: [lambda.Runtime.PYTHON_3_13],
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      description: 'Powertools, PyJWT and cryptography for the saas handlers (handlers/requirements.txt)',
    });
    this.alarms = new sns.Topic(this, 'Alarms', { topicName: `${PREFIX}-Alarms-Dev`, masterKey: key, enforceSSL: true });
    this.alarms.addSubscription(new subscriptions.EmailSubscription('platform-oncall+dev@example.com'));

    // ---- data: pool tables and the registry -------------------------------------------------------------------
    const tables = {};
    for (const name of POOL_TABLES) {
      const table = new dynamodb.Table(this, `${name}Table`, {
        tableName: `${name}Dev`,
        partitionKey: { name: 'TenantId', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'EntityItem', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: 'ExpiresAt',
        removalPolicy: RemovalPolicy.DESTROY,
      });
      if (name === 'TenantJob') {
        table.addGlobalSecondaryIndex({
          indexName: 'DueJobs',
          partitionKey: { name: 'DueShard', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'DueAt', type: dynamodb.AttributeType.STRING },
        });
      }
      for (const [kind, metric] of [['read', 'ReadThrottleEvents'], ['write', 'WriteThrottleEvents']]) {
        this.alarm(`${name}-${kind}-throttles`, table.metric(metric, { statistic: 'Sum', period: Duration.minutes(5) }), 0);
      }
      tables[name] = table;
    }
    this.registry = new dynamodb.Table(this, 'RegistryTable', {
      tableName: 'TenantRegistryDev',
      partitionKey: { name: 'tenantId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.registry.addGlobalSecondaryIndex({
      indexName: 'byUserPool',
      partitionKey: { name: 'userPoolId', type: dynamodb.AttributeType.STRING },
    });
    this.registryWriter = new iam.Role(this, 'RegistryWriterRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Writes the tenant registry items (AwsCustomResource)',
    });
    this.registryWriter.addToPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], resources: [this.registry.tableArn] }),
    );
    key.grantEncryptDecrypt(this.registryWriter);

    // ---- buckets ---------------------------------------------------------------------------------------------------
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      bucketName: `aiml-saas-${ENVIRONMENT}-access-logs-${this.account}`,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const bucket = (name, days) =>
      new s3.Bucket(this, `${name}Bucket`, {
        bucketName: `aiml-saas-${ENVIRONMENT}-${name}-${this.account}`,
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: key,
        bucketKeyEnabled: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforceSSL: true,
        versioned: true,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: `${name}/`,
        lifecycleRules: [
          { noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1), ...(days ? { expiration: Duration.days(days) } : {}) },
        ],
        removalPolicy: RemovalPolicy.DESTROY,
      });
    const raw = bucket('raw-images', 7);
    const processed = bucket('processed-images', 7);
    const documents = bucket('documents', 0);
    const failures = bucket('msk-failures', 7);

    // ---- shared sign-in triggers: one pair per 40 pools (the system pool first) ----------------------------------
    const pools = ['system', ...tenants];
    const triggerShards = [];
    for (let s = 0; s * POOLS_PER_TRIGGER < pools.length; s++) {
      const count = Math.min(POOLS_PER_TRIGGER, pools.length - s * POOLS_PER_TRIGGER);
      const pair = {};
      for (const [trigger, handler] of [['PreAuth', 'pre_authentication'], ['PreToken', 'pre_token_generation']]) {
        const fn = this.handler(`${trigger}-S${String(s).padStart(2, '0')}`, `saas_platform.handlers.${handler}.lambda_handler`, {
          description: `shard ${s} (${count} pools)`,
          environment: { SAAS_REGISTRY_TABLE: 'TenantRegistryDev', SAAS_TENANT_ROLES: 'admin,user', SAAS_SYSTEM_ROLES: 'admin,superuser,support', SAAS_CLIENT_ENVIRONMENTS: ENVIRONMENT },
          timeout: 5,
        });
        fn.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [this.registry.tableArn, `${this.registry.tableArn}/index/byUserPool`] }),
        );
        key.grantDecrypt(fn);
        pair[trigger] = fn;
      }
      triggerShards.push(pair);
    }

    // ---- system pool, its identity pool and the system roles ---------------------------------------------------
    const system = this.identity('system', triggerShards[0]);
    const systemRoles = {};
    for (const role of ['Admin', 'Superuser', 'Support']) {
      systemRoles[role] = new iam.Role(this, `System${role}Role`, {
        roleName: `${PREFIX}-System${role}Role-Dev`,
        description: `Platform ${role.toLowerCase()}s (dev)`,
        maxSessionDuration: Duration.hours(1),
        assumedBy: this.cognitoPrincipal(system.identityPool.ref),
      });
    }
    for (const [role, tableNames] of [['Admin', POOL_TABLES], ['Support', ['Employment', 'PIM']]]) {
      new iam.ManagedPolicy(this, `System${role}Policy`, {
        roles: role === 'Admin' ? [systemRoles.Admin, systemRoles.Superuser] : [systemRoles.Support],
        statements: [
          new iam.PolicyStatement({
            actions: role === 'Admin' ? ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] : ['dynamodb:GetItem', 'dynamodb:Query'],
            resources: tableNames.flatMap((t) => [tables[t].tableArn, `${tables[t].tableArn}/index/*`]),
          }),
        ],
      });
    }
    this.attachRoles('system', system, systemRoles.Support, [['admin', systemRoles.Admin], ['superuser', systemRoles.Superuser], ['support', systemRoles.Support]]);
    this.registryItem('system', system);

    // ---- tenants: identity, authorization, registry; ABAC roles per shard of 3 -----------------------------------
    // In this stack, or (tenantsPerStack > 0) in TenantStacks of that many tenants each, built by main().
    Object.assign(this, { tables, documents, triggerShards, cedar });
    this.shards = [];
    for (let s = 0; s * TENANTS_PER_ROLE < tenants.length; s++) {
      const shard = tenants.slice(s * TENANTS_PER_ROLE, (s + 1) * TENANTS_PER_ROLE);
      if (tenantsPerStack) this.shards.push([s, shard]);
      else this.tenantShard(s, shard, this);
    }

    // ---- system jobs (scheduler, picker, six runners), as plan_scale.py up to 146 tenants ------------------------
    if (n <= JOBS_MAX_TENANTS) this.jobs(tenants, tables.TenantJob);

    // ---- image pipeline processing leg: raw bucket -> SQS -> processor -----------------------------------------------
    const queueKey = new kms.Key(this, 'ImagesQueueKey', { enableKeyRotation: true, alias: `alias/aiml-saas-${ENVIRONMENT}-images-queue`, removalPolicy: RemovalPolicy.DESTROY });
    queueKey.grantEncryptDecrypt(new iam.ServicePrincipal('s3.amazonaws.com'));
    const imagesDlq = new sqs.Queue(this, 'ImagesDlq', { queueName: `${PREFIX}-ImageEvents-Dev-DLQ`, encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: queueKey, enforceSSL: true, retentionPeriod: Duration.days(14) });
    const images = new sqs.Queue(this, 'ImagesQueue', {
      queueName: `${PREFIX}-ImageEvents-Dev`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: queueKey,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(6),
      deadLetterQueue: { queue: imagesDlq, maxReceiveCount: 5 },
    });
    raw.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(images), { prefix: 'tenants/' });
    const processor = this.handler('ImageProcessor', 'saas_platform.handlers.image_processor.lambda_handler', { timeout: 60, memorySize: 1024 });
    processor.addEventSource(new sources.SqsEventSource(images, { batchSize: 5, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true, maxConcurrency: 10 }));
    raw.grantRead(processor);
    this.writerRole('ImageProcessor', processor, tenants, (r) => {
      processed.grantPut(r);
      tables.ImageMetadata.grantWriteData(r);
    });
    this.alarm('images-dlq-depth', imagesDlq.metricApproximateNumberOfMessagesVisible(), 0);
    this.alarm('images-queue-age', images.metricApproximateAgeOfOldestMessage(), 900);
    this.alarm('images-processor-errors', processor.metricErrors(), 0);

    // ---- dev MSK Serverless cluster and its consumer ----------------------------------------------------------------
    const vpc = new ec2.Vpc(this, 'MskVpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.42.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    const clusterSg = new ec2.SecurityGroup(this, 'MskClusterSg', { vpc, allowAllOutbound: false, description: 'MSK Serverless brokers and the Lambda event source mapping pollers (IAM auth, port 9098)' });
    clusterSg.addIngressRule(clusterSg, ec2.Port.tcp(9098), 'Kafka IAM auth (TLS)');
    clusterSg.addEgressRule(clusterSg, ec2.Port.tcp(9098), 'pollers to brokers');
    clusterSg.addEgressRule(ec2.Peer.ipv4('10.42.0.0/16'), ec2.Port.tcp(443), 'interface endpoints (STS, Lambda) inside the VPC');
    const endpointSg = new ec2.SecurityGroup(this, 'MskEndpointSg', { vpc, allowAllOutbound: false, description: 'STS and Lambda interface endpoints for the MSK pollers' });
    endpointSg.addIngressRule(ec2.Peer.ipv4('10.42.0.0/16'), ec2.Port.tcp(443), 'HTTPS from the VPC');
    for (const [name, service] of [['Sts', ec2.InterfaceVpcEndpointAwsService.STS], ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA]]) {
      vpc.addInterfaceEndpoint(`${name}Endpoint`, { service, securityGroups: [endpointSg], privateDnsEnabled: true });
    }
    const cluster = new msk.CfnServerlessCluster(this, 'MskCluster', {
      clusterName: `aiml-saas-images-${ENVIRONMENT}`,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [{ subnetIds: vpc.isolatedSubnets.map((s) => s.subnetId), securityGroups: [clusterSg.securityGroupId] }],
    });
    const consumer = this.handler('ImageConsumer-image-uploads', 'saas_platform.handlers.msk_consumer.lambda_handler', { timeout: 120, memorySize: 512 });
    consumer.addEventSource(
      new sources.ManagedKafkaEventSource({
        clusterArn: cluster.attrArn,
        topic: 'image-uploads',
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        consumerGroupId: `aiml-saas-${ENVIRONMENT}-image-consumer-image-uploads`,
        onFailure: new sources.S3OnFailureDestination(failures),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(6),
        provisionedPollerConfig: { minimumPollers: 1, maximumPollers: 2 },
      }),
    );
    consumer.addToRolePolicy(new iam.PolicyStatement({ actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup', 'kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: [cluster.attrArn, `arn:aws:kafka:${this.region}:${this.account}:topic/aiml-saas-images-${ENVIRONMENT}/*`, `arn:aws:kafka:${this.region}:${this.account}:group/aiml-saas-images-${ENVIRONMENT}/*`] }));
    failures.grantPut(consumer);
    this.writerRole('ImageConsumer', consumer, tenants, (r) => {
      raw.grantPut(r);
      tables.ImageMetadata.grantWriteData(r);
    });
    this.alarm('consumer-image-uploads-rejected', new cw.Metric({ namespace: 'saas', metricName: 'ImagesRejected', statistic: 'Sum' }), 0);
    this.alarm('consumer-image-uploads-transient', new cw.Metric({ namespace: 'saas', metricName: 'ImagesTransientFailures', statistic: 'Sum' }), 0);
    this.alarm('consumer-image-uploads-errors', consumer.metricErrors(), 0);

    new cw.Dashboard(this, 'Dashboard', {
      dashboardName: `${PREFIX}-Dev`,
      widgets: [
        [new cw.GraphWidget({ title: 'Pool table throttles', left: POOL_TABLES.map((t) => tables[t].metric('ReadThrottleEvents')) })],
        [new cw.GraphWidget({ title: 'Image pipeline', left: [images.metricApproximateAgeOfOldestMessage(), processor.metricErrors(), consumer.metricErrors()] })],
      ],
    });
  }
}

/** A slice of the tenants in a stack of its own, referring to the platform stack's shared pieces (exports). */
class TenantStack extends SaasStack {
  constructor(scope, id, platform, shards) {
    super(scope, id, { env: ENV });
    Object.assign(this, { key: platform.key, registry: platform.registry, registryWriter: platform.registryWriter });
    for (const [s, shard] of shards) this.tenantShard(s, shard, platform);
  }
}

function countResources(assembly, stacks) {
  const byType = {};
  for (const stack of stacks) {
    const template = assembly.getStackArtifact(stack.artifactId).template;
    for (const r of Object.values(template.Resources || {})) byType[r.Type] = (byType[r.Type] || 0) + 1;
  }
  return { resources: Object.values(byType).reduce((a, b) => a + b, 0), byType };
}

function main() {
  const n = Number.parseInt(process.argv[2] || process.env.CDK_PEER_TENANTS || '10', 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`tenant count must be a positive integer; got ${process.argv[2]}`);
  // 0 (the default): one stack, as ours. K > 0: the tenants in stacks of K (a multiple of the 3-tenant shard), as a
  // deployable CDK app needs: K = 18 keeps each stack under 500 resources (458), K = 9 each template under 1 MB.
  const tenantsPerStack = Number.parseInt(process.env.CDK_PEER_TENANTS_PER_STACK || '0', 10);
  if (!Number.isInteger(tenantsPerStack) || tenantsPerStack < 0 || tenantsPerStack % TENANTS_PER_ROLE) {
    throw new Error(`CDK_PEER_TENANTS_PER_STACK must be 0 or a multiple of ${TENANTS_PER_ROLE}; got ${process.env.CDK_PEER_TENANTS_PER_STACK}`);
  }
  const started = process.hrtime.bigint();
  // The feature flags `cdk init` writes into a new project's cdk.json (there is no cdk.json: no CDK CLI here), but
  // with annotations reported as before: with `annotationsInValidationReport` the cdk-nag errors make app.synth()
  // throw after writing the assembly, and we count them instead.
  // A stack resource limit of 0 turns off CDK's check of CloudFormation's 500 resources per stack (one stack holds
  // them all unless CDK_PEER_TENANTS_PER_STACK is set; docs/benchmarks.md).
  const context = {
    ...cxapi.CURRENTLY_RECOMMENDED_FLAGS,
    [cxapi.ANNOTATIONS_IN_VALIDATION_REPORT]: false,
    [cdk.STACK_RESOURCE_LIMIT_CONTEXT]: 0,
  };
  // CDK's built-in CloudFormation Validate (in-process WASM rules, on by default since 2.27x) is off unless
  // CDK_PEER_CFN_VALIDATION=1: the peer is synth + cdk-nag, and that validator stops at its 10 MB template-size
  // rule from about 120 tenants, so its share would fall away exactly where the comparison matters.
  const builtinCloudFormationValidation = process.env.CDK_PEER_CFN_VALIDATION === '1';
  // Construct stack traces in the metadata: off, as `cdk synth` without --debug; CDK_PEER_STACK_TRACES=1 keeps them.
  const stackTraces = process.env.CDK_PEER_STACK_TRACES === '1';
  const app = new cdk.App({ context, stackTraces, builtinCloudFormationValidation });
  const platform = new Platform(app, `saas-${ENVIRONMENT}`, n, tenantsPerStack);
  const stacks = [platform];
  for (let first = 0; first < platform.shards.length; first += tenantsPerStack / TENANTS_PER_ROLE) {
    const shards = platform.shards.slice(first, first + tenantsPerStack / TENANTS_PER_ROLE);
    stacks.push(new TenantStack(app, `saas-${ENVIRONMENT}-tenants-${String(stacks.length).padStart(2, '0')}`, platform, shards));
  }
  // With it on, CloudFormation Validate refuses a template over 500 resources (from 17 tenants) and over 10 MB (from
  // about 120: each store carries the 52 KB Cedar schema); its other rules stay on.
  for (const stack of stacks) {
    for (const rule of ['F0007', 'F1101']) {
      cdk.Validations.of(stack).acknowledge({ id: `CloudFormation-Validate::${rule}`, reason: 'one stack, as the Pulumi program it is compared with' });
    }
  }
  cdk.Tags.of(app).add('cost-center', 'hr-platform');
  cdk.Tags.of(app).add('saas:environment', ENVIRONMENT);
  cdk.Aspects.of(app).add(new AwsSolutionsChecks({ verbose: false }));
  const built = process.hrtime.bigint();
  const assembly = app.synth();
  const synthed = process.hrtime.bigint();
  const messages = stacks.flatMap((stack) => assembly.getStackArtifact(stack.artifactId).messages);
  const level = (l) => messages.filter((m) => m.level === l && /AwsSolutions-/.test(String(m.entry.data))).length;
  const { resources, byType } = countResources(assembly, stacks);
  const perStack = stacks.map((stack) => Object.keys(assembly.getStackArtifact(stack.artifactId).template.Resources || {}).length);
  process.stdout.write(
    JSON.stringify({
      tenants: n,
      stacks: stacks.length,
      resources,
      max_stack_resources: Math.max(...perStack),
      nag_errors: level('error'),
      nag_warnings: level('warning'),
      construct_s: Number(built - started) / 1e9,
      synth_s: Number(synthed - built) / 1e9,
      total_s: Number(process.hrtime.bigint() - started) / 1e9,
      cpu_s: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      peak_mb: process.resourceUsage().maxRSS / 1024,
      outdir: assembly.directory,
      cfn_validation: builtinCloudFormationValidation,
      stack_traces: stackTraces,
      resources_by_type: byType,
    }) + '\n',
  );
}

main();
