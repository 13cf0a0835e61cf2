metadata description = 'Storage account of the auditor, keyless: shared key access and public blob access disabled, TLS 1.2. Holds the audit tables, the Functions host state and the Flex Consumption deployment packages.'

// ---------- Parameters ----------

@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags { *: string }

@description('Names of the tables the auditor uses (AUDIT_TABLE_PREFIX followed by findings, runs and state).')
param tableNames string[]

@description('Name of the blob container that holds the Flex Consumption deployment packages.')
@minLength(3)
@maxLength(63)
param deploymentContainerName string

// ---------- Resources ----------

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource tableService 'tableServices' = {
    name: 'default'

    resource tables 'tables' = [
      for tableName in tableNames: {
        name: tableName
      }
    ]
  }
}

// ---------- Outputs ----------

@description('Resource ID of the storage account.')
output id string = storage.id

@description('Name of the storage account.')
output name string = storage.name

@description('Blob endpoint of the storage account (ends with a slash).')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Table endpoint of the storage account, without the trailing slash (the AUDIT_TABLE_ENDPOINT app setting).')
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'

@description('Name of the deployment package container.')
output deploymentContainerName string = storage::blobService::deploymentContainer.name
