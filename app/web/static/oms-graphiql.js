// GraphiQL for preorder-oms, on the vendored builds in ./graphiql/ (no CDN).
//
// An API key goes in the Headers tab: {"Authorization": "Bearer oms_..."}. It is sent with
// every request, and as the WebSocket's connection params for subscriptions (one socket per
// key). Headers are not kept across reloads: a key never lands in the browser's storage.
(function () {
  "use strict";

  var url = window.location.href.split(/[?#]/)[0];
  var socketUrl = url.replace(/^http/, "ws");
  var fetchers = {};

  function credentialsOf(headers) {
    var params = {};
    Object.keys(headers || {}).forEach(function (name) {
      var lower = name.toLowerCase();
      if (lower === "authorization") params.authorization = String(headers[name]);
      if (lower === "x-api-key") params.apiKey = String(headers[name]);
    });
    return params;
  }

  function fetcher(params, options) {
    var credentials = credentialsOf(options && options.headers);
    var id = JSON.stringify(credentials);
    if (!fetchers[id]) {
      fetchers[id] = GraphiQL.createFetcher({
        url: url,
        subscriptionUrl: socketUrl,
        wsConnectionParams: credentials,
      });
    }
    return fetchers[id](params, options);
  }

  var defaultQuery = [
    "# preorder-oms: the GraphQL API of ready stock, pre-orders and backorders.",
    "#",
    "# Catalog reads need no key. For everything else, put an API key in the Headers tab:",
    '#   {"Authorization": "Bearer oms_..."}',
    "# (python -m app create-api-key --scope ops --name me prints one).",
    "",
    "{",
    "  products(first: 10) {",
    "    edges { node { sku name availability { state buttonLabel message } } }",
    "  }",
    "}",
    "",
  ].join("\n");

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
