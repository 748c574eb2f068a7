// Hive Gateway serving the Mesh-composed supergraph, configured for the peer benchmark:
// - identical upstream GETs within one request are sent once (the deduplicate-request plugin: the owner
//   of 50 companies is read once per distinct owner, as a DataLoader would);
// - no response cache, no HTTP cache: the cache-off figures compare reads that reach the systems;
// - a company's contacts and deals come from one CRM batch read per company (the ids are the company's
//   own association list, so the read cannot be shared between companies), written with the in-context
//   SDK as Mesh documents for joins a declarative @resolveTo cannot express.
import { defineConfig } from '@graphql-hive/gateway'
import { useDeduplicateRequest } from '@graphql-hive/plugin-deduplicate-request'

type Ref = { id: string }
type Parent = { associations?: { contacts?: { results?: Ref[] }; deals?: { results?: Ref[] } } }

function firstIds(refs: Ref[] | undefined, first: number): { id: string }[] {
  const ids = [...new Set((refs ?? []).map(ref => ref.id))].slice(0, first)
  return ids.map(id => ({ id }))
}

function batchRead(field: 'batchReadContacts' | 'batchReadDeals', kind: 'contacts' | 'deals', properties: string[]) {
  return {
    selectionSet: `{ associations { ${kind} { results { id } } } }`,
    resolve(root: Parent, args: { first: number }, context: any, info: any) {
      const inputs = firstIds(root.associations?.[kind]?.results, args.first)
      if (inputs.length === 0) return { status: 'COMPLETE', results: [] }
      return context.crm.Query[field]({ root, args: { input: { inputs, properties } }, context, info })
    },
  }
}

export const gatewayConfig = defineConfig({
  supergraph: process.env.PEER_SUPERGRAPH ?? './supergraph.graphql',
  port: Number(process.env.PEER_PORT ?? 4000),
  host: '127.0.0.1',
  logging: 'error',
  graphiql: false,
  landingPage: false,
  additionalTypeDefs: /* GraphQL */ `
    extend type Company {
      contacts(first: Int! = 20): ContactBatch
      deals(first: Int! = 20): DealBatch
    }
  `,
  additionalResolvers: {
    Company: {
      contacts: batchRead('batchReadContacts', 'contacts', ['firstname', 'lastname', 'email', 'phone']),
      deals: batchRead('batchReadDeals', 'deals', ['dealname', 'dealstage', 'amount', 'deal_currency_code']),
    },
  },
  plugins: ctx => [useDeduplicateRequest(ctx)],
})
