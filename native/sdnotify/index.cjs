'use strict';
// Loads the compiled addon. Build it with `npx node-gyp rebuild` in this folder.
module.exports = require('./build/Release/sdnotify.node');
