/**
 * The API reference: swagger-ui (loaded before this script, from our own origin) renders the contract
 * that GET /api/v1/openapi.json generates from the zod schemas. A key pasted in the playground (this
 * tab's session storage) authorizes "Try it out"; swagger-ui is told not to persist it anywhere.
 */
interface SwaggerUi {
  authActions: { authorize(auth: Record<string, unknown>): void };
}

declare const SwaggerUIBundle: ((options: Record<string, unknown>) => SwaggerUi) & {
  presets: { apis: unknown };
};

const keyItem = 'veo-playground-api-key';

const ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  // No call to swagger.io's validator: the page talks to our origin only.
  validatorUrl: null,
  persistAuthorization: false,
  onComplete: () => {
    const key = sessionStorage.getItem(keyItem);
    if (key) {
      ui.authActions.authorize({
        bearer: { name: 'bearer', schema: { type: 'http', scheme: 'bearer' }, value: key },
      });
    }
  },
});
