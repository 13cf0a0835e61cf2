metadata description = 'aks-acr-auditor: a keyless, least-privilege deployment of the AKS to ACR pull auditor (Function App on Flex Consumption, storage, Application Insights, workbook and alert). Subscription scope, azd conventions: creates the resource group.'

targetScope = 'subscription'

// ---------- Parameters ----------

@description('Name of the azd environment; seeds the resource names and is tagged on the resource group.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region of every resource.')
@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Name of the resource group to create; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Name of the Function App; empty: func-<resourceToken>.')
param functionAppName string = ''

@description('Name of the storage account; empty: st<resourceToken>.')
@maxLength(24)
param storageAccountName string = ''

@description('Extra tags applied to every resource.')
param tags { *: string } = {}

@description('NCRONTAB schedule of the audit timer (app setting AUDIT_SCHEDULE).')
param auditSchedule string = '0 0 */6 * * *'

@description('Audit only this management group (app setting AUDIT_MANAGEMENT_GROUP); empty audits every subscription the identity can read. Grant Reader there with management-group/reader.bicep.')
@maxLength(90)
param auditManagementGroupId string = ''

@description('Whether the tenant uses Azure Resource Manager private link (app setting AUDIT_TENANT_ARM_PRIVATE_LINK).')
param auditTenantArmPrivateLink bool = false

@description('Days of run history kept in Table Storage (app setting RETENTION_DAYS).')
@minValue(1)
@maxValue(3650)
param retentionDays int = 90

@description('Prefix of the audit table names (app setting AUDIT_TABLE_PREFIX): <prefix>findings, <prefix>runs, <prefix>state.')
@minLength(1)
@maxLength(40)
param auditTablePrefix string = 'acraudit'

@description('Key that signs the API\'s continuation tokens (app setting AUDIT_API_TOKEN_SECRET). The default is new on every deployment, which only ends the nextLinks handed out before it.')
@secure()
@minLength(32)
param apiTokenSecret string = newGuid()

@description('Subscription IDs on which the auditor identity gets Reader (one deployment per subscription). Leave empty when Reader is granted at a management group.')
param auditSubscriptionIds string[] = []

@description('E-mail address notified by the finding alert; empty creates the alert without an action group.')
param alertEmail string = ''

@description('Client ID of an Entra ID app registration; when given, App Service authentication requires a token for every API call except /api/health.')
param apiAuthClientId string = ''

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Maximum number of Function App instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// ---------- Variables ----------

@description('Unique, stable suffix of the resource names for this subscription, environment and region.')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))

@description('Tags on every resource; azd finds the environment through azd-env-name.')
var allTags = union(tags, { 'azd-env-name': environmentName })

@description('Resource names: the overrides when given, otherwise the azd abbreviation and the resource token.')
var names = {
  resourceGroup: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  functionApp: !empty(functionAppName) ? functionAppName : 'func-${resourceToken}'
  plan: 'plan-${resourceToken}'
  storage: !empty(storageAccountName) ? storageAccountName : 'st${resourceToken}'
  identity: 'id-${resourceToken}'
  logAnalytics: 'log-${resourceToken}'
  applicationInsights: 'appi-${resourceToken}'
  alert: 'alert-finding-${resourceToken}'
  actionGroup: 'ag-${resourceToken}'
}

@description('Tables the auditor reads and writes (src/adapters/table-store).')
var tableNames = [
  '${auditTablePrefix}findings'
  '${auditTablePrefix}runs'
  '${auditTablePrefix}state'
]

@description('Blob container of the Flex Consumption deployment packages.')
var deploymentContainerName = 'app-package'

@description('Subscriptions that get Reader, without duplicates.')
var readerSubscriptionIds = union(auditSubscriptionIds, [])

// ---------- Resources ----------

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: names.resourceGroup
  location: location
  tags: allTags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: allTags
    tableNames: tableNames
    deploymentContainerName: deploymentContainerName
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  scope: rg
  params: {
    // Assignment names are guid(scope, principalId, role): a recreated identity gets new assignments
    // instead of a failed update. The principal ID exists only at run time, hence the suppression.
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    storageAccountName: names.storage
    applicationInsightsName: names.applicationInsights
  }
  dependsOn: [
    storage
    monitoring
  ]
}

module auditReaders 'modules/subscription-reader.bicep' = [
  for subscriptionId in readerSubscriptionIds: {
    scope: subscription(subscriptionId)
    params: {
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
    }
  }
]

module functionApp 'modules/function-app.bicep' = {
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: names.storage
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: names.applicationInsights
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    apiAuthClientId: apiAuthClientId
    auditSchedule: auditSchedule
    auditManagementGroupId: auditManagementGroupId
    auditTenantArmPrivateLink: auditTenantArmPrivateLink
    retentionDays: retentionDays
    auditTableEndpoint: storage.outputs.tableEndpoint
    auditTablePrefix: auditTablePrefix
    apiTokenSecret: apiTokenSecret
  }
  // The host reads its storage and telemetry with the identity from the first start.
  dependsOn: [
    monitoring
    roleAssignments
  ]
}

module workbook 'modules/workbook.bicep' = {
  scope: rg
  params: {
    location: location
    tags: allTags
    applicationInsightsName: names.applicationInsights
  }
  dependsOn: [
    monitoring
  ]
}

module alerts 'modules/alerts.bicep' = {
  scope: rg
  params: {
    location: location
    tags: allTags
    applicationInsightsName: names.applicationInsights
    alertName: names.alert
    actionGroupName: names.actionGroup
    alertEmail: alertEmail
  }
  dependsOn: [
    monitoring
  ]
}

// ---------- Outputs ----------

@description('Azure region of the deployment.')
output AZURE_LOCATION string = location

@description('Tenant ID of the deployment.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Name of the resource group.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the Function App.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('HTTPS base URL of the auditor API.')
output AUDIT_API_URI string = functionApp.outputs.uri

@description('Name of the storage account.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Table Storage endpoint of the audit tables (for the CLI against the deployed store).')
output AUDIT_TABLE_ENDPOINT string = storage.outputs.tableEndpoint

@description('Prefix of the audit table names.')
output AUDIT_TABLE_PREFIX string = auditTablePrefix

@description('Resource ID of Application Insights (the workbook and the alert read it).')
output APPLICATIONINSIGHTS_RESOURCE_ID string = monitoring.outputs.applicationInsightsId

@description('Object (principal) ID of the auditor identity: pass it to management-group/reader.bicep.')
output AUDITOR_PRINCIPAL_ID string = identity.outputs.principalId

@description('Client ID of the auditor identity.')
output AUDITOR_CLIENT_ID string = identity.outputs.clientId

@description('Resource ID of the workbook.')
output WORKBOOK_ID string = workbook.outputs.id

@description('Resource ID of the finding alert rule.')
output ALERT_RULE_ID string = alerts.outputs.alertId
