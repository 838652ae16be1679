#!/usr/bin/env node
console.log('casgate');
