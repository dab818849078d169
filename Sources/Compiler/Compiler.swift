// Placeholder so the module builds until the code lands.
