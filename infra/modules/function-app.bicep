metadata description = 'The auditor Function App on the Flex Consumption plan (FC1, Node.js 22), running as a user-assigned managed identity with identity-based storage and telemetry: no keys, no connection strings with secrets, no basic publishing credentials.'

// ---------- Parameters ----------

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags { *: string }

@description('Resource ID of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client ID of the user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account for the Functions host (AzureWebJobsStorage) and the deployment packages.')
param storageAccountName string

@description('Name of the blob container holding the deployment packages.')
param deploymentContainerName string

@description('Name of the Application Insights component the app sends telemetry to (in this resource group).')
param applicationInsightsName string

@description('NCRONTAB schedule of the audit timer (AUDIT_SCHEDULE).')
param auditSchedule string

@description('Management group to audit (AUDIT_MANAGEMENT_GROUP); empty audits every readable subscription.')
param auditManagementGroupId string

@description('Whether the tenant uses Azure Resource Manager private link (AUDIT_TENANT_ARM_PRIVATE_LINK).')
param auditTenantArmPrivateLink bool

@description('Days of run history kept (RETENTION_DAYS).')
param retentionDays int

@description('Table Storage endpoint of the audit tables (AUDIT_TABLE_ENDPOINT).')
param auditTableEndpoint string

@description('Prefix of the audit table names (AUDIT_TABLE_PREFIX).')
param auditTablePrefix string

@description('Key that signs the API\'s continuation tokens (AUDIT_API_TOKEN_SECRET).')
@secure()
param apiTokenSecret string

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Maximum number of instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Client ID of an Entra ID app registration that protects the HTTP API with App Service authentication; empty leaves the API to its function keys.')
param apiAuthClientId string = ''

// ---------- Variables ----------

@description('Service name azd deploys the code of this project to (azure.yaml services.api).')
var azdServiceName = 'api'

@description('Paths that stay reachable without a token when App Service authentication is on.')
var unauthenticatedPaths = [
  '/api/health'
]

// ---------- Existing resources ----------

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---------- Resources ----------

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Functions host storage through the identity. accountName alone resolves public-cloud endpoints
      // only, so the service URIs (which take precedence) come from the current cloud's suffix.
      AzureWebJobsStorage__accountName: storageAccountName
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      AzureWebJobsStorage__blobServiceUri: 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
      AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
      AzureWebJobsStorage__tableServiceUri: 'https://${storageAccountName}.table.${environment().suffixes.storage}'
      // The connection string only names the component; local auth is off, so ingestion needs the
      // Entra ID token the authentication string asks for.
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
      // The settings loadConfig reads (src/config.ts SETTINGS), except the local-only ones.
      AUDIT_SCHEDULE: auditSchedule
      AUDIT_MANAGEMENT_GROUP: auditManagementGroupId
      AUDIT_TENANT_ARM_PRIVATE_LINK: auditTenantArmPrivateLink ? 'true' : 'false'
      AZURE_CLOUD: environment().name
      AZURE_CLIENT_ID: identityClientId
      RETENTION_DAYS: string(retentionDays)
      AUDIT_TABLE_ENDPOINT: auditTableEndpoint
      AUDIT_TABLE_PREFIX: auditTablePrefix
      AUDIT_API_TOKEN_SECRET: apiTokenSecret
    }
  }

  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }

  resource authSettings 'config' = if (!empty(apiAuthClientId)) {
    name: 'authsettingsV2'
    properties: {
      platform: {
        enabled: true
      }
      globalValidation: {
        requireAuthentication: true
        unauthenticatedClientAction: 'Return401'
        excludedPaths: unauthenticatedPaths
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: apiAuthClientId
            openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          }
          validation: {
            allowedAudiences: [
              'api://${apiAuthClientId}'
              apiAuthClientId
            ]
          }
        }
      }
      login: {
        tokenStore: {
          enabled: false
        }
      }
      httpSettings: {
        requireHttps: true
      }
    }
  }
}

// ---------- Outputs ----------

@description('Resource ID of the Function App.')
output id string = functionApp.id

@description('Name of the Function App.')
output name string = functionApp.name

@description('HTTPS base URL of the Function App.')
output uri string = 'https://${functionApp.properties.defaultHostName}'
